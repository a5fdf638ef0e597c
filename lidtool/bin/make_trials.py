"""Write a speaker-verification trial list (VoxCeleb1-O style) for a data dir.

Writes DATA_DIR/trials (`<enrol_utt> <test_utt> target|nontarget`, sorted), enroll.list and
test.list (the utterances on each side). Target trials: distinct same-speaker utterance pairs;
nontarget trials: pairs of different speakers, within one language (utt2lang) with
--same-lang-nontarget. Seeded: the same data dir and options give the same list.

Usage: lidtool make-trials [--count 20000] [--target-fraction 0.5] [--seed 1]
                           [--same-lang-nontarget] DATA_DIR
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("--count", type=int, default=20000, help="number of trials")
    parser.add_argument("--target-fraction", type=float, default=0.5,
                        help="share of target trials (default 0.5)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--same-lang-nontarget", action="store_true",
                        help="nontarget pairs only between speakers of one language "
                             "(needs utt2lang)")
    parser.add_argument("data_dir", help="Kaldi data dir with utt2spk")


def main(args) -> int:
    from lidtool.data.datadir import DataDir
    from lidtool.data.trials import make_trials, write_trials
    from lidtool.errors import DataDirError
    d = DataDir(args.data_dir)
    if d.utt2spk is None:
        raise DataDirError(f"{args.data_dir}/utt2spk", "no utt2spk in the data dir")
    groups = None
    if args.same_lang_nontarget:
        if d.utt2lang is None:
            raise DataDirError(f"{args.data_dir}/utt2lang", "--same-lang-nontarget needs "
                               "utt2lang")
        groups = dict(d.utt2lang)
    trials = make_trials(dict(d.utt2spk), args.count, args.target_fraction, args.seed,
                         utt2group=groups, where=f"{args.data_dir}/utt2spk")
    write_trials(args.data_dir, trials)
    n_target = sum(t[2] == "target" for t in trials)
    log.info("%s/trials: %d trials (%d target)", args.data_dir, len(trials), n_target)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
