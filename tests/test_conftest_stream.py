"""tests/conftest.py stream_run: a long command's lines reach the terminal under -v / -s
and are kept for the assertion message; a timeout kills the whole process group."""
from __future__ import annotations

import subprocess
import sys
import time

from conftest import stream_run

SCRIPT = "echo one; echo two >&2; sleep 0.2; printf 'bar 1\\rbar 2\\n'; exit 3"


class _Config:
    """The two options stream_run reads, and a capture manager that does nothing."""

    def __init__(self, verbose: int, capture: str = "fd"):
        self.verbose, self.capture = verbose, capture
        self.pluginmanager = self

    def getoption(self, name):
        return {"verbose": self.verbose, "capture": self.capture}[name]

    def getplugin(self, name):
        assert name == "capturemanager"
        return self

    def global_and_fixture_disabled(self):
        import contextlib
        return contextlib.nullcontext()


def test_lines_kept_and_shown_only_when_verbose(capsys):
    proc = stream_run(["bash", "-c", SCRIPT], config=_Config(verbose=1), label="demo")
    assert proc.returncode == 3
    assert proc.stdout == "one\ntwo\nbar 1\rbar 2\n"
    err = capsys.readouterr().err
    assert "[demo" in err and "s] one" in err and "s] two" in err
    assert "s] bar 2" in err and "bar 1" not in err
    quiet = stream_run(["bash", "-c", SCRIPT], config=_Config(verbose=0))
    assert quiet.stdout == proc.stdout and capsys.readouterr().err == ""
    assert stream_run(["bash", "-c", "echo x"], config=_Config(0, capture="no")).returncode == 0
    assert "] x" in capsys.readouterr().err


def test_timeout_kills_the_process_group():
    start = time.monotonic()
    # the grandchild sleep would keep the pipe open if only the shell were killed
    proc = stream_run(["bash", "-c", "echo started; sleep 30 & wait"], timeout=1)
    assert time.monotonic() - start < 10
    assert proc.returncode == -9
    assert proc.stdout.splitlines() == ["started", "[killed after 1 s]"]


def test_fixture_runs_with_the_session_config(run_streamed):
    proc = run_streamed([sys.executable, "-c", "print('hello')"])
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0 and proc.stdout == "hello\n"
