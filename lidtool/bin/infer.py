"""Score the utterances of a data dir with a trained DNN: `<utt> <lang> <log-posterior>` lines.

    lidtool infer [--nj N --job J] [--device auto] MODEL DATA_DIR SCORES [DATA_DIR SCORES ...]

MODEL is exp/<sys>/final.pt. Whole utterances are scored (sliding CMN + VAD as in
training). With --nj/--job only the J-th of N contiguous blocks of the sorted utterances is
scored (steps/infer_nnet.sh runs the jobs and concatenates the outputs). Written atomically.
Several data dirs, each followed by its score file, are scored in one process (the
start-up, about a second of imports, is paid once).
"""
from __future__ import annotations

import logging

from lidtool.inference.jobs import add_job_arguments, add_more_pairs_argument

log = logging.getLogger("lidtool.infer")


def add_arguments(p):
    add_job_arguments(p)
    p.add_argument("scores", help="output score file")
    add_more_pairs_argument(p, "SCORES")


def write_score_file(path, utts, langs, matrix) -> None:
    from lidtool.metrics.scores import write_scores
    write_scores(path, utts, langs, matrix)


def main(args):
    from lidtool.inference.jobs import open_each_job
    from lidtool.inference.scoring import score_utterances

    for data_dir, scores, (model, info, device, items) in open_each_job(args, "scores"):
        utts, matrix = score_utterances(model, items, device,
                                        desc=f"infer {data_dir} {args.job}/{args.nj}")
        write_score_file(scores, utts, info["classes"], matrix.reshape(len(utts), -1))
        log.info("scored %d utterances x %d languages%s -> %s", len(utts),
                 len(info["classes"]), items.summary(), scores)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
