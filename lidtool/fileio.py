"""Atomic output: everything lidtool writes goes to a temp file that is renamed at the end.

An interrupted or failing job therefore never leaves a half-written file under the final
name, and a re-run never mistakes a partial output for a finished one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tmp_name(path: Path) -> str:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; outputs should get the usual permissions a plain open() gives.
    os.chmod(name, 0o666 & ~_umask())
    return name


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    Use for writers that want a file name (kaldiio ark writers, torch.save, savefig).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temp file for writing; it replaces `path` when the block exits cleanly."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as f:
            yield f


def write_text_atomic(path, text: str) -> None:
    with atomic_open(path) as f:
        f.write(text)


def touch_done(path) -> None:
    """Create a `.done` marker (atomically, so a marker is never half there)."""
    write_text_atomic(path, "")


def emit_json(obj, out=None) -> None:
    """Print `obj` as indented JSON and, if `out` is given, also write it there atomically."""
    import json
    text = json.dumps(obj, indent=1)
    if out:
        write_text_atomic(out, text + "\n")
    print(text)
