"""The hub's media path: decode every site, compose one program, encode it once.

Runs in its own process (:mod:`hub.media.worker`), commanded by the control
process through :class:`hub.media.client.MediaWorker`.
"""
