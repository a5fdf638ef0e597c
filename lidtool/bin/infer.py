"""Score the utterances of a data dir with a trained DNN: `<utt> <lang> <log-posterior>` lines.

    lidtool infer [--nj N --job J] [--device auto] MODEL DATA_DIR SCORES

MODEL is exp/<sys>/final.pt. Whole utterances are scored (sliding CMN + VAD as in
training). With --nj/--job only the J-th of N contiguous blocks of the sorted utterances is
scored (steps/infer_nnet.sh runs the jobs and concatenates the outputs). Written atomically.
"""
from __future__ import annotations

import logging

from lidtool.inference.jobs import add_job_arguments

log = logging.getLogger("lidtool.infer")


def add_arguments(p):
    add_job_arguments(p)
    p.add_argument("scores", help="output score file")


def write_score_file(path, utts, langs, matrix) -> None:
    from lidtool.metrics.scores import write_scores
    write_scores(path, utts, langs, matrix)


def main(args):
    from lidtool.inference.jobs import open_job
    from lidtool.inference.scoring import score_utterances

    model, info, device, items = open_job(args)
    utts, matrix = score_utterances(model, items, device, desc=f"infer {args.job}/{args.nj}")
    write_score_file(args.scores, utts, info["classes"], matrix.reshape(len(utts), -1))
    log.info("scored %d utterances x %d languages%s -> %s", len(utts), len(info["classes"]),
             items.summary(), args.scores)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
