"""lidtool.metrics: score files and LID/detection metrics (accuracy, EER, Cavg, minDCF).

- `scores`: read/write `<utt> <lang> <score>` files (`read_scores`, `write_scores`).
- `detection`: pooled-trial ROC, EER (linear interpolation, tie-aware), minDCF.
- `lid`: accuracy, OLR Cavg / min-Cavg (closed and open set), confusion counts.
- `trials`: speaker-verification trial lists, trial score files, EER/minDCF per p_target.
- `report`: `score_files(scores, utt2lang, langs=None)` -> dict of every metric.
"""
from lidtool.metrics.detection import eer, min_dcf
from lidtool.metrics.lid import accuracy, cavg, min_cavg
from lidtool.metrics.report import score_files
from lidtool.metrics.scores import ScoreFileError, Scores, read_scores, write_scores

__all__ = ["eer", "min_dcf", "accuracy", "cavg", "min_cavg", "score_files",
           "ScoreFileError", "Scores", "read_scores", "write_scores"]
