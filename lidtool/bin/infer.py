"""Score the utterances of a data dir with a trained DNN: `<utt> <lang> <log-posterior>` lines.

    lidtool infer [--nj N --job J] [--device auto] MODEL DATA_DIR SCORES

MODEL is exp/<sys>/final.pt. Whole utterances are scored (sliding CMN + VAD as in
training). With --nj/--job only the J-th of N contiguous blocks of the sorted utterances is
scored (steps/infer_nnet.sh runs the jobs and concatenates the outputs). Written atomically.
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger("lidtool.infer")


def add_arguments(p):
    p.add_argument("--nj", type=int, default=1, help="number of parallel jobs")
    p.add_argument("--job", type=int, default=1, help="which job (1..nj) this is")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda[:N]")
    p.add_argument("--num-threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("model", help="exp/<sys>/final.pt")
    p.add_argument("data_dir", help="data dir with feats.scp (and vad.scp)")
    p.add_argument("scores", help="output score file")


def write_score_file(path, utts, langs, matrix) -> None:
    from lidtool.metrics.scores import write_scores
    write_scores(path, utts, langs, matrix)


def main(args):
    from lidtool.data.tables import read_table
    from lidtool.train.checkpoint import load_model
    from lidtool.train.distributed import pick_device
    from lidtool.train.inference import job_slice, prepared_utterances, score_utterances

    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    device = pick_device(args.device)
    model, info = load_model(args.model, device)
    utts = job_slice(list(read_table(f"{args.data_dir}/feats.scp")), args.nj, args.job)
    cmn = int((info.get("features") or {}).get("cmn_window", 300))
    items = prepared_utterances(args.data_dir, cmn, utts)
    utts, matrix = score_utterances(model, items, device, desc=f"infer {args.job}/{args.nj}")
    write_score_file(args.scores, utts, info["langs"], matrix.reshape(len(utts), -1))
    log.info("scored %d utterances x %d languages -> %s", len(utts), len(info["langs"]),
             args.scores)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
