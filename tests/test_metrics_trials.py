"""Trial lists, trial score files, and EER/minDCF against independent implementations."""
from __future__ import annotations

import numpy as np
import pytest

from lidtool.metrics.trials import (TrialsError, read_trials, verification_metrics,
                                    write_trial_scores)


def brute_force_min_dcf(tar, non, p_target):
    """Sweep every threshold (each score, and above all of them); accept when score >= t."""
    best = np.inf
    for t in np.r_[np.unique(np.r_[tar, non]), np.inf]:
        p_miss, p_fa = np.mean(tar < t), np.mean(non >= t)
        cost = p_target * p_miss + (1 - p_target) * p_fa
        best = min(best, cost / min(p_target, 1 - p_target))
    return best


def sklearn_eer(tar, non):
    """Where the sklearn ROC, joined by straight lines, crosses P_miss = P_fa."""
    from sklearn.metrics import roc_curve
    fpr, tpr, _ = roc_curve(np.r_[np.ones(len(tar)), np.zeros(len(non))], np.r_[tar, non],
                            drop_intermediate=False)
    gap = (1 - tpr) - fpr                     # decreasing along the curve
    j = int(np.searchsorted(-gap, 0.0))       # first point with gap <= 0
    if gap[j] == 0:
        return fpr[j]
    w = gap[j - 1] / (gap[j - 1] - gap[j])
    return (1 - w) * fpr[j - 1] + w * fpr[j]


@pytest.mark.parametrize("seed,rounding", [(0, 3), (1, 1), (2, 0)])
def test_metrics_equal_independent_implementations(seed, rounding):
    rng = np.random.default_rng(seed)
    tar = np.round(rng.normal(2.0, 1.0, 400), rounding)    # coarse rounding: many ties
    non = np.round(rng.normal(0.0, 1.0, 3000), rounding)
    scores = np.r_[tar, non]
    is_target = np.r_[np.ones(len(tar), bool), np.zeros(len(non), bool)]
    order = rng.permutation(len(scores))
    m = verification_metrics(scores[order], is_target[order])
    assert m["eer"] == pytest.approx(sklearn_eer(tar, non), abs=1e-12)
    assert set(m["min_dcf"]) == {"0.05", "0.01", "0.001"}
    for p in (0.05, 0.01, 0.001):
        assert m["min_dcf"][str(p)] == pytest.approx(brute_force_min_dcf(tar, non, p),
                                                     abs=1e-12)
    assert (m["n_trials"], m["n_target"], m["n_nontarget"]) == (3400, 400, 3000)


def test_min_dcf_threshold_is_none_when_rejecting_everything_is_best():
    # targets score below every non-target: any acceptance costs more than rejecting all
    m = verification_metrics([0.0, 1.0, 5.0, 6.0], [True, True, False, False])
    assert m["eer"] == 1.0
    assert m["min_dcf"]["0.01"] == pytest.approx(1.0)
    assert m["min_dcf_threshold"]["0.01"] is None


def test_read_keyed_and_unkeyed_trial_lists(tmp_path):
    keyed = tmp_path / "trials"
    keyed.write_text("a x target\na y nontarget\nb x nontarget\n")
    t = read_trials(keyed)
    assert (t.enrol, t.test, t.lines) == (["a", "a", "b"], ["x", "y", "x"], [1, 2, 3])
    assert t.is_target.tolist() == [True, False, False]
    plain = tmp_path / "pairs"
    plain.write_text("a x\nb y\n")
    assert read_trials(plain).is_target is None
    with pytest.raises(TrialsError, match=f"{plain}: --metrics needs target/nontarget keys"):
        read_trials(plain).require_keys("--metrics")
    (tmp_path / "tar").write_text("a x target\n")
    with pytest.raises(TrialsError, match="every trial is target"):
        read_trials(tmp_path / "tar").require_keys("--metrics")


@pytest.mark.parametrize("text,line,message", [
    ("a x target\nb y target extra\n", 2, "got 4 field"),
    ("a x target\nb\n", 2, "got 1 field"),
    ("a x target\n\n", 2, "got 0 field"),
    ("a x target\nb y nontraget\n", 2, "key 'nontraget' is neither"),
    ("a x target\nb y\n", 2, "2 fields, but line 1 has 3"),
    ("a x target\nb y nontarget\na x nontarget\n", 3, "repeats line 1"),
    # the original VoxCeleb1 list puts the key first, as 1/0
    ("1 id1/a.wav id1/b.wav\n", 1, "neither .*fix: the original VoxCeleb lists"),
])
def test_bad_trial_lines_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "trials"
    path.write_text(text)
    with pytest.raises(TrialsError, match=message) as err:
        read_trials(path)
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_missing_or_empty_trial_list(tmp_path):
    with pytest.raises(TrialsError, match="does not exist"):
        read_trials(tmp_path / "nope")
    (tmp_path / "empty").write_text("")
    with pytest.raises(TrialsError, match="empty"):
        read_trials(tmp_path / "empty")


def test_trial_scores_written_in_trial_order_and_read_back_exactly(tmp_path):
    path = tmp_path / "trials"
    path.write_text("b x target\na y nontarget\n")
    out = tmp_path / "scores"
    write_trial_scores(out, read_trials(path), [0.1 + 0.2, -3.5])
    rows = [line.split() for line in out.read_text().splitlines()]
    assert [r[:2] for r in rows] == [["b", "x"], ["a", "y"]]
    assert [float(r[2]) for r in rows] == [0.1 + 0.2, -3.5]
