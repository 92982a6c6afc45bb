"""Start with the clerk's login, and only once.

Windows: the per-user ``HKCU\\...\\Run`` value (no admin rights needed).
Linux: an XDG autostart ``.desktop`` file in ``~/.config/autostart``.
Single instance: an exclusive lock on a file in the config directory (the
OS drops it if the process dies, so a crash never blocks the next start).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "SalaklangAgent"
DESKTOP_NAME = "salaklang-agent.desktop"


def command_line(python: str | None = None, extra: list[str] | None = None) -> list[str]:
    exe = python or sys.executable
    if sys.platform == "win32" and exe.lower().endswith("python.exe"):
        # pythonw: no console window flashing up at every login.
        exe = exe[: -len("python.exe")] + "pythonw.exe"
    return [exe, "-m", "site_agent", "run", *(extra or [])]


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) else arg


def xdg_autostart_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart"


def desktop_entry(cmd: list[str]) -> str:
    # Exec quoting per the Desktop Entry spec: double quotes around args with spaces.
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=Salaklang",
            "Name[th]=ศาลากลาง ประชุมทางไกล",
            "Comment=Connects this meeting-room PC to the provincial hall",
            "Comment[th]=เชื่อมต่อห้องประชุมอำเภอกับศาลากลางจังหวัด",
            "Exec=" + " ".join(_quote(a) for a in cmd),
            "Terminal=false",
            "X-GNOME-Autostart-enabled=true",
            "",
        ]
    )


def enable(extra: list[str] | None = None) -> str:
    """Register the agent to start at login; returns where it was registered."""
    cmd = command_line(extra=extra)
    if sys.platform == "win32":
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, VALUE_NAME, 0, winreg.REG_SZ, " ".join(_quote(a) for a in cmd))
        return "HKCU\\" + RUN_KEY + "\\" + VALUE_NAME
    folder = xdg_autostart_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DESKTOP_NAME
    path.write_text(desktop_entry(cmd), encoding="utf-8")
    return str(path)


def disable() -> None:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, VALUE_NAME)
        except FileNotFoundError:
            return
        return
    (xdg_autostart_dir() / DESKTOP_NAME).unlink(missing_ok=True)


def is_enabled() -> bool:
    if sys.platform == "win32":
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                winreg.QueryValueEx(key, VALUE_NAME)
        except FileNotFoundError:
            return False
        return True
    return (xdg_autostart_dir() / DESKTOP_NAME).exists()


class SingleInstance:
    """An exclusive, non-blocking lock on ``<dir>/agent.lock``."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "agent.lock"
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            if sys.platform == "win32":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the lock
            self._fh = None
