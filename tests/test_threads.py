"""One torch thread per process by default (--num-threads on every torch command), and the
OpenMP wait policy that utils/lib.sh exports to every step."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from conftest import REPO
from lidtool.cli import build_parser

TORCH_COMMANDS = ["train", "infer", "extract-embeddings", "identify", "make-bnf",
                  "asr-train-bnf", "ubm-init", "ubm-acc-stats", "ivector-acc-stats",
                  "extract-ivectors", "backend-train"]


@pytest.mark.parametrize("name", TORCH_COMMANDS)
def test_every_torch_command_defaults_to_one_thread(name):
    module = importlib.import_module("lidtool.bin." + name.replace("-", "_"))
    action = build_parser(module, name)._option_string_actions["--num-threads"]
    assert action.default == 1


def test_cli_applies_num_threads_before_the_command_runs(tmp_path):
    # a fresh process without OMP_NUM_THREADS: torch would start one thread per core
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    code = ("import torch; from lidtool.cli import main; "
            "rc = main(['identify', '--num-threads', '1', '--model', 'missing.pt', 'x.wav']); "
            "import os; print(rc, torch.get_num_threads(), os.environ['OMP_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["1", "1", "1"]      # the command failed (no model), threads were set


def test_lib_sh_sets_a_passive_wait_policy_unless_the_user_chose():
    run = lambda env: subprocess.run(  # noqa: E731
        ["bash", "-c", ". utils/lib.sh; echo $OMP_WAIT_POLICY"], cwd=REPO, text=True,
        capture_output=True, check=True,
        env={**{k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}, **env}
    ).stdout.strip()
    assert run({}) == "PASSIVE"
    assert run({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
