"""WebRTC plumbing shared by the hub's media worker and the district's endpoint (aiortc, no I/O of its own).

The hub may import this package (like ``protocol`` and ``netmon``): both ends of a
media path must heal the same way. :mod:`.healing` is the one place where
Salaklang changes aiortc's behaviour.
"""
