"""Write a speaker-verification trial list (VoxCeleb1-O style) for a data dir.

Writes DATA_DIR/trials (`<enrol_utt> <test_utt> target|nontarget`, sorted), enroll.list and
test.list (the utterances on each side). Target trials: distinct same-speaker utterance pairs;
nontarget trials: pairs of different speakers, within one language (utt2lang) when
--same-lang-nontarget is true, or auto (the default, as the corpus's `trials:` default) and
the data dir has utt2lang, so that a nontarget trial is never decided by language alone.
Seeded: the same data dir and options give the same list.

Usage: lidtool make-trials [--count 20000] [--target-fraction 0.5] [--seed 1]
                           [--same-lang-nontarget auto|true|false] DATA_DIR
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("--count", type=int, default=20000, help="number of trials")
    parser.add_argument("--target-fraction", type=float, default=0.5,
                        help="share of target trials (default 0.5)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--same-lang-nontarget", default="auto",
                        choices=["auto", "true", "false"],
                        help="nontarget pairs only between speakers of one language: true "
                             "(needs utt2lang), false, or auto: true when the data dir has "
                             "utt2lang (default)")
    parser.add_argument("data_dir", help="Kaldi data dir with utt2spk")


def main(args) -> int:
    from lidtool.data.datadir import DataDir
    from lidtool.data.trials import make_trials, write_trials
    from lidtool.errors import DataDirError
    d = DataDir(args.data_dir)
    if d.utt2spk is None:
        raise DataDirError(f"{args.data_dir}/utt2spk", "no utt2spk in the data dir")
    groups = None
    same_lang = args.same_lang_nontarget
    if same_lang == "auto":
        same_lang = "true" if d.utt2lang is not None else "false"
        log.info("--same-lang-nontarget auto: %s (%s utt2lang)", same_lang,
                 "has" if same_lang == "true" else "no")
    if same_lang == "true":
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
