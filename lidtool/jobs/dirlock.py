"""One writer per directory: an exclusive flock on a file in it that names its holder.

`lock_dir(dir)` is the Python side of utils/lib.sh's `lock_dir` (same record format, so
either side's error names the holder): it takes a non-blocking flock on DIR/.lock (or
another name), writes `pid N`, `command ...` and `started <date> on <host>` into the file,
and raises DirLocked naming the holder when another process holds it. The kernel drops the
lock when the holder exits, however it dies, so a stale lock file never blocks a re-run.
"""
from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from pathlib import Path

from lidtool.errors import LidtoolError


class DirLocked(LidtoolError):
    """Another run holds the directory's lock."""

    def __init__(self, directory, lock_file, record: dict[str, str]):
        self.directory, self.lock_file = str(directory), str(lock_file)
        self.holder_pid = record.get("pid")
        pid = self.holder_pid or "unknown"
        if self.holder_pid and not _alive(int(self.holder_pid)):
            pid += " (exited; a process it started still holds the lock)"
        super().__init__(f"{directory} is in use by another run: pid {pid}, command: "
                         f"{record.get('command', 'unknown')} (wait for it to finish or kill "
                         f"it; the lock is {lock_file})")


class DirLock:
    """A held lock; `release()` (or the process's exit) frees it."""

    def __init__(self, path: Path, fd: int):
        self.path, self._fd = path, fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __del__(self):
        self.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def read_record(path) -> dict[str, str]:
    """The holder's `key value` lines of a lock file ({} if unreadable)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)


def lock_dir(directory, name: str = ".lock", command: str | None = None) -> DirLock:
    """Lock `directory` (created if missing) for this process; DirLocked if another holds it.
    `command` is recorded for the error message (default: this process's command line)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    # Append mode: the holder's record must survive our opening the file before we lock it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DirLocked(directory, path, read_record(path)) from None
    os.ftruncate(fd, 0)
    command = command or " ".join([sys.executable] + sys.argv)
    os.write(fd, (f"pid {os.getpid()}\ncommand {command}\nstarted "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')} on {socket.gethostname()}\n").encode())
    return DirLock(path, fd)
