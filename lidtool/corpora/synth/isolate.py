"""Run a function in a freshly forked child and return its result.

libespeak-ng keeps synthesis state between calls (the same text and voice spoken twice in one
process gives different samples), so a bit-identical corpus needs every utterance spoken by
an engine in the same initial state. `run_isolated` forks, runs `fn` in the child (which
loads and initialises libespeak-ng for itself), sends the result back through a pipe and
exits; the caller never loads the library, so every child starts from the same state.
Exceptions raised in the child are re-raised in the caller.

The child also resets the C library's random generator to its start state (srand(1)):
espeak-ng draws breath and aspiration noise of some voice variants (e.g. +f2, +whisper)
from libc rand(), and a forked child inherits whatever state its parent left, so without
the reset the same utterance came out differently depending on what the parent process
(a test run, a worker) had done before.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import pickle
import struct
import sys
import traceback

from lidtool.errors import InputError, LidtoolError


class IsolatedCrash(LidtoolError):
    """The child process died without sending a result (e.g. a crash inside the library)."""


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        data = os.read(fd, min(left, 1 << 20))
        if not data:
            break
        chunks.append(data)
        left -= len(data)
    return b"".join(chunks)


def _reset_c_rand() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.srand(1)          # the state a fresh process starts with


def run_isolated(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` evaluated in a forked child; result or exception comes back."""
    if "lidtool.corpora.synth.espeak" in sys.modules:
        from lidtool.corpora.synth.espeak import Espeak
        if Espeak._instance is not None:
            raise RuntimeError("run_isolated called from a process that already initialised "
                               "libespeak-ng; its state would leak into the children")
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                                   # child
        code = 0
        try:
            os.close(read_fd)
            try:
                _reset_c_rand()
                payload = (True, fn(*args, **kwargs))
            except InputError as err:              # rebuilt from its fields in the caller
                payload = (False, ((type(err), err.path, err.reason, err.line, err.fix),
                                   traceback.format_exc()))
            except BaseException as err:           # noqa: BLE001 - everything goes back
                payload = (False, (err, traceback.format_exc()))
            try:
                blob = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as err:               # unpicklable exception
                blob = pickle.dumps((False, (RuntimeError(repr(err)), traceback.format_exc())))
            view = memoryview(struct.pack("<Q", len(blob)) + blob)
            while view:
                view = view[os.write(write_fd, view):]
            os.close(write_fd)
        except BaseException:                      # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        head = _read_exact(read_fd, 8)
        blob = _read_exact(read_fd, struct.unpack("<Q", head)[0]) if len(head) == 8 else b""
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if not blob:
        raise IsolatedCrash(f"child process for {getattr(fn, '__name__', fn)} died without a "
                            f"result (wait status {status})")
    ok, value = pickle.loads(blob)
    if ok:
        return value
    err, _tb = value
    if isinstance(err, tuple):
        cls, path, reason, line, fix = err
        raise cls(path, reason, line=line, fix=fix)
    raise err
