"""Shared fixtures: small Kaldi data dirs made from generated audio."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]

# Shell tools (utils/*.sh, steps/*.sh) call `lidtool`: make the interpreter running the tests
# (the project's .venv) the one they find.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def make_wav(path: Path, seconds: float, freq: float, sr: int = 16000, seed: int = 0) -> Path:
    """A tone plus a little noise, int16 wav: enough structure for features and VAD."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), sr, subtype="PCM_16")
    return path


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


@pytest.fixture
def tiny_data_dir(tmp_path) -> Path:
    """6 utterances, 3 speakers, 2 languages (eng: low tones, fra: high tones), 0.5-1.0 s."""
    d = tmp_path / "data" / "tiny"
    d.mkdir(parents=True)
    wav, u2s, u2l, u2d = [], [], [], []
    for i, (spk, lang) in enumerate([("spkA", "eng"), ("spkA", "eng"), ("spkB", "fra"),
                                     ("spkB", "fra"), ("spkC", "eng"), ("spkC", "fra")]):
        utt = f"{spk}-utt{i}"
        secs = 0.5 + 0.1 * i
        f = make_wav(tmp_path / "wav" / f"{utt}.wav", secs,
                     300.0 if lang == "eng" else 1200.0, seed=i)
        wav.append(f"{utt} {f}")
        u2s.append(f"{utt} {spk}")
        u2l.append(f"{utt} {lang}")
        u2d.append(f"{utt} {secs:.3f}")
    write_lines(d / "wav.scp", wav)
    write_lines(d / "utt2spk", u2s)
    write_lines(d / "utt2lang", u2l)
    write_lines(d / "utt2dur", u2d)
    spk2utt = {}
    for line in u2s:
        u, s = line.split()
        spk2utt.setdefault(s, []).append(u)
    write_lines(d / "spk2utt", [f"{s} {' '.join(us)}" for s, us in sorted(spk2utt.items())])
    return d


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def stream_run(args, *, config=None, cwd=None, env=None, timeout: float | None = None,
               label: str | None = None) -> subprocess.CompletedProcess:
    """Run a long command (a recipe, a step script) so that a slow test is not silent.

    stdout and stderr are merged; every line is kept (the result's `.stdout`, for the
    assertion message) and, when pytest runs with -v or -s (`config` is the pytestconfig),
    also printed at once to the terminal, prefixed with `label` and the seconds since the
    start, so that a failure shows while the command still runs. On `timeout` the command's
    process group is killed and returncode is -9, with "[killed after N s]" as the last
    line. Use it as `proc = stream_run([...], config=pytestconfig, timeout=900)`, then
    `assert proc.returncode == 0, proc.stdout[-3000:]`.
    """
    show = config is not None and (config.getoption("verbose") > 0
                                   or config.getoption("capture") == "no")
    capman = config.pluginmanager.getplugin("capturemanager") if show else None
    label = label or Path(str(args[0])).name
    start = time.monotonic()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    killed = threading.Event()

    def kill():
        killed.set()
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer:
        timer.start()
    lines = []
    try:
        for raw in proc.stdout:          # bytes: lines end at \n only, \r stays inside
            line = raw.decode("utf-8", errors="replace")
            lines.append(line)
            if show:
                # progress bars redraw with \r: show the latest state of the line only
                text = line.rstrip("\n").rsplit("\r", 1)[-1]
                with capman.global_and_fixture_disabled():
                    sys.stderr.write(f"  [{label} {time.monotonic() - start:6.0f}s] {text}\n")
                    sys.stderr.flush()
        rc = proc.wait()
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None:
            kill()
            proc.wait()
    if killed.is_set():
        lines.append(f"[killed after {timeout:g} s]\n")
        rc = -9
    return subprocess.CompletedProcess(args, rc, stdout="".join(lines), stderr="")


@pytest.fixture
def run_streamed(pytestconfig):
    """`run_streamed(args, cwd=..., env=..., timeout=..., label=...)`: stream_run with this
    session's verbosity (see stream_run)."""
    def run(args, **kw):
        return stream_run(args, config=pytestconfig, **kw)
    return run
