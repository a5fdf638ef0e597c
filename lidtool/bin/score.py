"""Score LID output: accuracy, EER, Cavg, min-Cavg, minDCF per language and overall.

SCORES has one line `<utt> <lang> <score>` for every utterance x target language;
UTT2LANG gives each utterance's true language (Kaldi utt2lang). Target languages are the
score file's languages unless --langs/--langs-file names them (their order breaks argmax
ties). Utterances whose language is not a target make the test open-set: they form one
"unknown" class in Cavg (P_non = 0.5/N) and only give non-target trials to EER/minDCF.
Cavg is taken at --threshold (0 = the Bayes threshold for calibrated log-likelihood
ratios); min-Cavg is the OLR minimum over 21 thresholds between the lowest and highest
score. EER: linear interpolation between tie-aware ROC points (lidtool.metrics.detection).
minDCF: p_target 0.01 and 0.05, C_miss = C_fa = 1, normalised. All JSON rates are
fractions in [0, 1].
"""
from __future__ import annotations

import json

from lidtool.metrics.report import format_table, score_files
from lidtool.metrics.scores import read_lang_list


def add_arguments(parser) -> None:
    parser.add_argument("scores", help="score file: <utt> <lang> <score> per line")
    parser.add_argument("utt2lang", help="true language per utterance: <utt> <lang>")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--langs", help="comma-separated target languages (default: those "
                       "in the score file, sorted)")
    group.add_argument("--langs-file", help="file with one target language per line "
                       "(first field)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of a table")
    parser.add_argument("--confusion-png", metavar="PNG",
                        help="also write a confusion-matrix image here")
    parser.add_argument("--threshold", type=float, default=0.0,
                        help="decision threshold for Cavg (default: 0)")


def main(args) -> int:
    langs = None
    if args.langs:
        langs = [x for x in (s.strip() for s in args.langs.split(",")) if x]
    elif args.langs_file:
        langs = read_lang_list(args.langs_file)
    result = score_files(args.scores, args.utt2lang, langs=langs, threshold=args.threshold,
                         confusion_png=args.confusion_png)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
