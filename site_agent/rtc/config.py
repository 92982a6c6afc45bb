"""The peer-connection configuration both ends use.

No ICE servers. aiortc's default (``RTCIceTransport.getDefaultIceServers``) is Google's
public STUN server: on a district's provincial network, or any PC without a route to
the internet, gathering waits for that server to time out (~5 s) on every offer,
which is every rejoin. The hub is reachable directly (host candidates), so a
server-reflexive candidate adds nothing but that wait.
"""

from __future__ import annotations

from aiortc import RTCConfiguration


def rtc_configuration() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


__all__ = ["rtc_configuration"]
