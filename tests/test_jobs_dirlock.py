"""One run per directory: lidtool.jobs.dirlock (Python), utils/lib.sh lock_dir (shell), and
their users steps/*.sh and `lidtool train`."""
import os
import signal
import subprocess
from pathlib import Path

import pytest

from lidtool.cli import main as lidtool
from lidtool.jobs.dirlock import DirLocked, lock_dir

ROOT = Path(__file__).resolve().parents[1]


def test_second_lock_fails_naming_the_holder_and_release_frees_it(tmp_path):
    held = lock_dir(tmp_path / "exp", command="lidtool train x y")
    with pytest.raises(DirLocked) as err:
        lock_dir(tmp_path / "exp")
    text = str(err.value)
    assert f"pid {os.getpid()}," in text and "command: lidtool train x y" in text
    assert str(tmp_path / "exp" / ".lock") in text and err.value.holder_pid == str(os.getpid())
    held.release()
    lock_dir(tmp_path / "exp").release()
    # another name in the same dir is another lock
    a, b = lock_dir(tmp_path / "exp"), lock_dir(tmp_path / "exp", ".train.lock")
    a.release(), b.release()


def start_holder(tmp_path, target: Path) -> subprocess.Popen:
    """A script that takes utils/lib.sh's lock_dir on `target`, starts a `sleep` (which
    inherits the lock) and waits for it; in a process group of its own."""
    script = tmp_path / "holder.sh"
    script.write_text(f"#!/usr/bin/env bash\nset -euo pipefail\n. {ROOT}/utils/lib.sh\n"
                      f'lock_dir "$1"\nsleep 60 &\necho locked\nwait\n')
    script.chmod(0o755)
    proc = subprocess.Popen([str(script), str(target)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stdout.readline() == "locked\n"
    return proc


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def test_shell_lock_names_the_holder_and_is_freed_when_it_is_killed(tmp_path):
    target = tmp_path / "exp" / "sys"
    holder = start_holder(tmp_path, target)
    try:
        record = (target / ".lock").read_text()
        assert record.startswith(f"pid {holder.pid}\ncommand ") and "holder.sh" in record
        # the Python side reads the shell's record
        with pytest.raises(DirLocked, match=f"pid {holder.pid},.*holder.sh"):
            lock_dir(target)
        r = subprocess.run(["bash", "-c", f". {ROOT}/utils/lib.sh; lock_dir {target}; echo ran"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 1 and "ran" not in r.stdout
        assert f"{target} is in use by another run: pid {holder.pid}," in r.stderr
        assert "holder.sh" in r.stderr
    finally:
        kill_group(holder)
    # kill -9 left the lock file behind, but not the lock
    assert (target / ".lock").exists()
    r = subprocess.run(["bash", "-c", f". {ROOT}/utils/lib.sh; lock_dir {target}; echo ran"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and r.stdout == "ran\n", r.stderr
    lock_dir(target).release()


def test_a_process_the_holder_started_keeps_the_lock(tmp_path):
    """kill -9 of a stage script whose job still runs must not let a second run in."""
    target = tmp_path / "d"
    holder = start_holder(tmp_path, target)
    try:
        holder_pid = holder.pid
        os.kill(holder_pid, signal.SIGKILL)  # the script only; its `sleep` lives on
        holder.wait(timeout=10)
        with pytest.raises(DirLocked, match=f"pid {holder_pid} \\(exited; a process it "
                                            "started still holds the lock\\)"):
            lock_dir(target)
    finally:
        kill_group(holder)


def fake_training_inputs(tmp_path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    for name in ("feats.scp", "utt2lang"):
        (data / name).write_text("u1 x\n")
    config = ROOT / "egs" / "synth_lid" / "conf" / "tdnn_bs.yaml"
    return config, data


def test_second_train_nnet_on_the_same_dir_fails_at_once(tmp_path):
    config, data = fake_training_inputs(tmp_path)
    exp = tmp_path / "exp" / "tdnn"
    holder = start_holder(tmp_path, exp)
    try:
        r = subprocess.run(["steps/train_nnet.sh", str(config), str(data), str(exp)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1
        assert f"{exp} is in use by another run: pid {holder.pid}," in r.stderr
        assert not (exp / "log" / "train.log").exists()  # nothing was started
    finally:
        kill_group(holder)


def test_lidtool_train_refuses_a_second_trainer(tmp_path, capsys):
    config, data = fake_training_inputs(tmp_path)
    exp = tmp_path / "exp" / "tdnn"
    held = lock_dir(exp, ".train.lock", command="lidtool train (the first one)")
    try:
        assert lidtool(["train", "--config", str(config), "--device", "cpu", str(data),
                        str(exp)]) == 1
    finally:
        held.release()
    err = capsys.readouterr().err
    assert f"pid {os.getpid()}, command: lidtool train (the first one)" in err
    assert sorted(p.name for p in exp.iterdir()) == [".train.lock"]
