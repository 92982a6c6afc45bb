"""The agent's capture devices: what this PC has, which one to use, how to open it, the slate's font.

One choice (:func:`choose_devices`) serves the self-test and the briefing.
"""

from site_agent.devices.capture import AvCamera, AvMicrophone, SystemSpeaker, open_device
from site_agent.devices.choice import DeviceChoice, choose_devices, pick_device
from site_agent.devices.fonts import find_thai_font, thai_font
from site_agent.devices.listing import Device, devices_main, list_devices

__all__ = [
    "AvCamera", "AvMicrophone", "Device", "DeviceChoice", "SystemSpeaker", "choose_devices", "devices_main",
    "find_thai_font", "list_devices", "open_device", "pick_device", "thai_font",
]
