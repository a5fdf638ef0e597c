"""Prepare a phone recogniser's lang dir (phones, words, L.fst) from a lexicon.

Usage: lidtool asr-prepare-lang [--silence sil] [--sil-prob 0.5] [--oov W] lexicon.txt data/lang
"""
from __future__ import annotations

from lidtool.asr.lang import prepare_lang


def add_arguments(parser) -> None:
    parser.add_argument("--silence", default="sil",
                        help="silence phone(s), comma separated (added if the lexicon lacks them)")
    parser.add_argument("--sil-prob", type=float, default=0.5,
                        help="probability of optional silence between words")
    parser.add_argument("--oov", default=None, help="lexicon word that unknown words map to")
    parser.add_argument("lexicon", help="lexicon.txt: `word phone1 phone2 ...` per line")
    parser.add_argument("lang_dir", help="output lang dir")


def main(args) -> int:
    lang = prepare_lang(args.lexicon, silence=[s for s in args.silence.split(",") if s],
                        sil_prob=args.sil_prob, oov=args.oov)
    lang.write(args.lang_dir)
    print(f"{args.lang_dir}: {lang.num_phones} phones, {len(lang.words) - 1} words")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
