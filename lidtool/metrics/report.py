"""Score a score file against an utt2lang: every metric in one dict, and a text table.

`score_files` is what `lidtool score` and the recipes' RESULTS writers call. All rates are
fractions in [0, 1] (the table prints accuracy and EER as percentages). Metrics that are
undefined for the input (EER without any target trial, accuracy without any utterance of a
target language) are None, with a line in `warnings`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from lidtool.data.tables import read_table
from lidtool.metrics import detection, lid
from lidtool.metrics.scores import Scores, ScoreFileError, read_scores

log = logging.getLogger(__name__)

DCF_P_TARGETS = (0.01, 0.05)
MIN_CAVG_POINTS = 21


def read_labels(utt2lang_path, scores: Scores) -> list[str]:
    """The language of each utterance of `scores`, in `scores.utts` order. An utterance in
    utt2lang without scores, or scores for an utterance not in utt2lang, is an error."""
    path = Path(utt2lang_path)
    if not path.is_file():
        raise ScoreFileError(path, "utt2lang file does not exist")
    table = read_table(path, require_sorted=False)
    for utt, lang in table.items():
        if len(lang.split()) != 1:
            raise ScoreFileError(path, f"utterance '{utt}' has language '{lang}'; expected "
                                 f"one token", line=table.lines[utt])
    scored = set(scores.utts)
    for utt in table:
        if utt not in scored:
            raise ScoreFileError(path, f"utterance '{utt}' has no scores in {scores.path}",
                                 line=table.lines[utt],
                                 fix="score every utterance, or subset utt2lang")
    for utt in scores.utts:
        if utt not in table:
            raise scores.error(utt, f"utterance '{utt}' is not in {path}",
                               fix="score the matching data dir, or subset the score file")
    return [table[utt] for utt in scores.utts]


def compute_metrics(scores: Scores, labels: Sequence[str], threshold: float = 0.0) -> dict:
    """Every metric for a score matrix and its true labels (see lidtool.metrics.lid)."""
    langs, matrix = scores.langs, scores.matrix
    warnings: list[str] = []
    if scores.ignored_langs:
        warnings.append("scores for non-target language(s) ignored: "
                        + ", ".join(scores.ignored_langs))
    y = lid.label_indices(labels, langs)
    open_set = bool((y < 0).any())
    if not open_set and len(langs) < 2:
        raise ScoreFileError(scores.path, "closed-set scoring needs at least two target "
                             f"languages; got {langs}")
    acc = lid.accuracy(matrix, labels, langs)
    curve = lid.cavg_curve(matrix, labels, langs, [threshold])
    grid = lid.cavg_curve(matrix, labels, langs,
                          lid.min_cavg_thresholds(matrix, MIN_CAVG_POINTS))
    k = int(grid.cavg.argmin())
    if curve.empty_langs:
        warnings.append("target language(s) without test utterances: "
                        + ", ".join(curve.empty_langs)
                        + " (their P_miss terms are skipped in Cavg; false alarms against "
                        "them still count)")
    tar, non = lid.pooled_trials(matrix, labels, langs)
    eer = None
    dcf: dict[str, float | None] = {f"p{p:g}": None for p in DCF_P_TARGETS}
    if len(tar) and len(non):
        eer = detection.eer(tar, non)
        for p in DCF_P_TARGETS:
            dcf[f"p{p:g}"] = detection.min_dcf(tar, non, p)[0]
    else:
        warnings.append("no target trials: EER and minDCF are undefined")
    if acc.accuracy is None:
        warnings.append("no utterance of a target language: accuracy is undefined")
    unknown: dict[str, int] = {}
    for lab, j in zip(labels, y):
        if j < 0:
            unknown[lab] = unknown.get(lab, 0) + 1
    for msg in warnings:
        log.warning("%s: %s", scores.path, msg)
    return {
        "accuracy": acc.accuracy,
        "eer": eer,
        "cavg": float(curve.cavg[0]),
        "threshold": float(threshold),
        "min_cavg": float(grid.cavg[k]),
        "min_cavg_threshold": float(grid.thresholds[k]),
        "min_dcf": dcf,
        "per_lang": acc.per_lang,
        "n_utts": len(scores.utts),
        "n_unknown": int(sum(unknown.values())),
        "unknown_langs": dict(sorted(unknown.items())),
        "open_set": open_set,
        "p_non": curve.p_non,
        "langs": list(langs),
        "empty_langs": curve.empty_langs,
        "n_target_trials": int(len(tar)),
        "n_nontarget_trials": int(len(non)),
        "warnings": warnings,
    }


def score_files(scores_path, utt2lang_path, langs: Sequence[str] | None = None,
                threshold: float = 0.0, confusion_png=None) -> dict:
    """Read a score file and an utt2lang, return `compute_metrics`' dict; optionally also
    write a confusion-matrix PNG."""
    scores = read_scores(scores_path, langs)
    labels = read_labels(utt2lang_path, scores)
    result = compute_metrics(scores, labels, threshold)
    if confusion_png is not None:
        from lidtool.metrics.plot import write_confusion_png
        counts, rows = lid.confusion_matrix(scores.matrix, labels, scores.langs)
        write_confusion_png(confusion_png, counts, rows, scores.langs,
                            title=f"{Path(scores_path).name}: accuracy "
                            + _pct(result["accuracy"]))
    return result


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def format_table(result: dict) -> str:
    """A readable multi-line summary of `compute_metrics`' dict."""
    kind = "open set" if result["open_set"] else "closed set"
    head = (f"{result['n_utts']} utterances, {len(result['langs'])} target languages, "
            f"{kind}")
    if result["open_set"]:
        head += f" ({result['n_unknown']} of non-target languages)"
    lines = [head,
             f"  {'accuracy':22s} {_pct(result['accuracy'])}",
             f"  {'EER':22s} {_pct(result['eer'])}",
             f"  {'Cavg (threshold ' + format(result['threshold'], 'g') + ')':22s} "
             f"{_num(result['cavg'])}",
             f"  {'min-Cavg':22s} {_num(result['min_cavg'])}   (threshold "
             f"{result['min_cavg_threshold']:.4g}, best of {MIN_CAVG_POINTS})"]
    for key, value in result["min_dcf"].items():
        lines.append(f"  {'minDCF ' + key.replace('p', 'p_target=', 1):22s} {_num(value)}")
    width = max([8] + [len(lang) for lang in result["per_lang"]])
    lines.append("per language:")
    lines.append(f"  {'language':{width}s} {'count':>7s} {'accuracy':>10s}")
    for lang, row in result["per_lang"].items():
        lines.append(f"  {lang:{width}s} {row['count']:7d} {_pct(row['accuracy']):>10s}")
    for msg in result["warnings"]:
        lines.append(f"warning: {msg}")
    return "\n".join(lines)
