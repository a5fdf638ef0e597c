"""EER and minDCF against values worked out by hand (decision: accept when score >= t)."""
import numpy as np
import pytest

from lidtool.metrics.detection import eer, min_dcf, roc_points


def test_eer_interpolated_between_operating_points():
    # targets T = {2.0, 1.0, -0.2, -0.5}, non-targets N = {0.5, 0.4, 0.3, -0.3, -1 x3, -2}
    # operating points (P_fa, P_miss) by decreasing threshold:
    #   +inf (0, 1)   2.0 (0, .75)   1.0 (0, .5)   0.5 (1/8, .5)   0.4 (2/8, .5)
    #   0.3 (3/8, .5)  [P_miss - P_fa = +1/8]   -0.2 (3/8, .25)  [= -1/8]
    # crossing half-way along the last segment: P_miss = .5 + .5 * (.25 - .5) = .375,
    # P_fa = 3/8 = .375 -> EER = 0.375
    tar = [2.0, 1.0, -0.2, -0.5]
    non = [0.5, 0.4, 0.3, -0.3, -1.0, -1.0, -1.0, -2.0]
    assert eer(tar, non) == pytest.approx(0.375)


def test_eer_on_an_operating_point():
    # T = {3, 1}, N = {2, 0}: +inf (0, 1), 3 (0, .5), 2 (.5, .5) -> P_miss = P_fa = .5
    assert eer([3, 1], [2, 0]) == pytest.approx(0.5)


def test_eer_all_scores_tied_is_one_half():
    # one threshold only: +inf (0, 1) -> 0 (1, 0); the diagonal crosses at .5.
    # (Splitting the tie by sort order would give 0 or 1.)
    assert eer([0.0], [0.0]) == pytest.approx(0.5)
    assert eer([0.0, 0.0], [0.0, 0.0, 0.0]) == pytest.approx(0.5)


def test_eer_tie_between_target_and_nontarget():
    # T = {1, 1}, N = {1, 0}. Points: +inf (0, 1); t = 1 accepts both targets and one
    # non-target at once: (.5, 0). Segment (0,1)->(.5,0): P_miss - P_fa goes 1 -> -.5,
    # zero at lambda = 1/1.5 = 2/3: P_miss = 1 - 2/3 = 1/3, P_fa = .5 * 2/3 = 1/3.
    assert eer([1, 1], [1, 0]) == pytest.approx(1 / 3)
    # same trials in another order: same answer
    assert eer([1, 1], [0, 1]) == pytest.approx(1 / 3)


def test_eer_extremes():
    # perfect separation: t = 2 gives (0, 0) -> EER 0
    assert eer([2, 3], [0, 1]) == 0.0
    # fully inverted: t = 1 gives P_fa = 1 and P_miss = 1 -> EER 1
    assert eer([0], [1]) == 1.0


def test_eer_does_not_depend_on_trial_order_with_many_ties():
    rng = np.random.default_rng(0)
    tar = rng.integers(0, 6, 50).astype(float) + 1
    non = rng.integers(0, 6, 200).astype(float)
    ref = eer(tar, non)
    for _ in range(3):
        assert eer(rng.permutation(tar), rng.permutation(non)) == pytest.approx(ref)


def test_eer_matches_independent_crossing_on_sklearn_roc():
    # sklearn's roc_curve (drop_intermediate=False) gives the same tie-grouped points;
    # find the P_miss = P_fa crossing on it independently.
    from sklearn.metrics import roc_curve
    rng = np.random.default_rng(1)
    tar = np.round(rng.normal(1.0, 1.0, 300), 1)
    non = np.round(rng.normal(0.0, 1.0, 700), 1)
    y = np.r_[np.ones_like(tar), np.zeros_like(non)]
    fpr, tpr, _ = roc_curve(y, np.r_[tar, non], drop_intermediate=False)
    fnr = 1 - tpr
    d = fnr - fpr
    k = np.nonzero(d <= 0)[0][0]
    lam = d[k - 1] / (d[k - 1] - d[k])
    expected = fnr[k - 1] + lam * (fnr[k] - fnr[k - 1])
    assert eer(tar, non) == pytest.approx(expected, abs=1e-12)


def test_roc_points_group_ties():
    roc = roc_points([1, 1], [1, 0])
    assert list(roc.thresholds) == [np.inf, 1.0, 0.0]
    assert list(roc.n_miss) == [2, 0, 0]
    assert list(roc.n_fa) == [0, 1, 2]


def test_min_dcf_depends_on_p_target():
    # T = {10, 9, 8, 7}; N = one at 9.5 and 39 at -1 (40 non-targets).
    # normalised DCF = P_miss + (1 - p) / p * P_fa.
    # points: +inf (miss 1, fa 0); 10 (.75, 0); 9.5 (.75, 1/40); 9 (.5, 1/40);
    #         8 (.25, 1/40); 7 (0, 1/40); -1 (0, 1).
    # p = .01 (weight 99):  1, .75, .75+2.475, .5+2.475, ... -> min .75 at t = 10
    # p = .05 (weight 19):  1, .75, .75+.475, .5+.475, .25+.475, 0+.475 -> min .475 at t = 7
    tar = [10, 9, 8, 7]
    non = [9.5] + [-1.0] * 39
    assert min_dcf(tar, non, 0.01) == (pytest.approx(0.75), 10.0)
    assert min_dcf(tar, non, 0.05) == (pytest.approx(0.475), 7.0)


def test_min_dcf_counts_tied_trials_together():
    # T = {1}, N = {1, 0}, p = .5 -> DCF = P_miss + P_fa: +inf 1, t=1 (0 + .5), t=0 (0 + 1)
    # -> .5 (a sort that put the target first would wrongly find 0)
    assert min_dcf([1.0], [1.0, 0.0], 0.5)[0] == pytest.approx(0.5)


def test_min_dcf_reject_all_is_a_valid_point():
    # everything inverted: best is to accept nothing, DCF = P_miss = 1
    value, threshold = min_dcf([0.0], [5.0], 0.01)
    assert value == pytest.approx(1.0) and threshold == np.inf


def test_detection_input_errors():
    with pytest.raises(ValueError, match="target"):
        eer([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        eer([np.nan], [1.0])
    with pytest.raises(ValueError, match="p_target"):
        min_dcf([1.0], [0.0], 1.0)
