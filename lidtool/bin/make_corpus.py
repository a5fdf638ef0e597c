"""Synthesise the built-in multilingual corpus (espeak-ng, Festival, flite, MBROLA) to data dirs.

Reads a corpus config (egs/synth_lid/conf/corpus.yaml), renders every set's utterances in
shards (resumable: finished shards are kept), writes lhotse manifests to
DATA/manifests/synth_{recordings,supervisions}_<set>.jsonl.gz, validated Kaldi data dirs
DATA/<set> (wav.scp, utt2spk, spk2utt, utt2lang, utt2dur, text) and, for sentence-mode
(ASR) sets, a Kaldi dict dir DATA/local/dict_<lang> with lexicon.txt from espeak's phones.
Synthesizers, voice families, per-speaker voice transforms and held-out-synthesizer test sets
are per-set options: see lidtool/corpora/synth/README.md.

Usage: lidtool make-corpus --config conf/corpus.yaml [--nj 2] [--sets "train_lt test_3s"]
                           [--override key.sub=value ...] CORPUS_DIR DATA_DIR
"""
from __future__ import annotations

import logging

from lidtool.corpora.synth.generate import make_corpus
from lidtool.corpora.synth.sets import load_config

log = logging.getLogger(__name__)


def add_arguments(parser) -> None:
    parser.add_argument("--config", default=None, help="corpus YAML (sets, sizes, knobs)")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config entry, e.g. seed=3 or "
                             "sets.train_lt.min_utts=10 (repeatable)")
    parser.add_argument("--nj", type=int, default=1, help="parallel generation processes")
    parser.add_argument("--sets", default="",
                        help="space/comma separated subset of the config's sets (default all)")
    parser.add_argument("corpus_dir", help="where audio, shards and vocabularies go")
    parser.add_argument("data_dir", help="where manifests/ and the Kaldi data dirs go")


def main(args) -> int:
    cfg = load_config(args.config, args.override)
    sets = [s for s in args.sets.replace(",", " ").split() if s] or None
    dirs = make_corpus(cfg, args.corpus_dir, args.data_dir, sets=sets, nj=args.nj)
    log.info("wrote %d data dirs under %s", len(dirs), args.data_dir)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
