"""Print one progress line of a training run (step k/N, loss, elapsed, ETA) from its exp dir.

    lidtool train-progress exp/<sys>

Reads exp/<sys>/train_log.jsonl and the step count in exp/<sys>/log/train.log; prints
nothing (exit 0) before the first step. steps/train_nnet.sh calls it periodically
(--progress-every) so that a training run shows its progress on the terminal.
"""
from __future__ import annotations


def add_arguments(p):
    p.add_argument("exp_dir", help="the training's exp dir")


def main(args):
    from lidtool.train.progress import progress_line
    line = progress_line(args.exp_dir)
    if line:
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
