"""Accuracy, OLR Cavg / min-Cavg and confusion counts against values worked out by hand.

Decision rule: accept language L for an utterance when its L-score >= threshold.
cost(L) = 0.5 P_miss(L) + P_non * sum_M P_fa(L, M); Cavg = mean over target languages.
"""
import numpy as np
import pytest

from lidtool.metrics.lid import (accuracy, cavg, cavg_curve, confusion_matrix, min_cavg,
                                 min_cavg_thresholds, pooled_trials)
from lidtool.metrics.detection import eer

# Case A: closed set, targets a b c (N = 3, P_non = 0.5 / 2 = 0.25)
LANGS_A = ["a", "b", "c"]
LABELS_A = ["a", "a", "b", "c"]
SCORES_A = np.array([
    #  a     b     c
    [1.0, -1.0, -2.0],   # u1 (a) argmax a: right
    [-0.5, 0.5, -1.0],   # u2 (a) argmax b: wrong
    [-1.0, 2.0, 0.3],    # u3 (b) argmax b: right
    [0.4, -0.3, -0.2],   # u4 (c) argmax a: wrong
])


def test_accuracy_and_per_language():
    # 2 of 4 right; a: u1 right, u2 wrong -> .5; b: 1/1; c: 0/1
    acc = accuracy(SCORES_A, LABELS_A, LANGS_A)
    assert acc.accuracy == pytest.approx(0.5)
    assert acc.n_correct == 2 and acc.n_scored == 4
    assert acc.per_lang == {"a": {"accuracy": 0.5, "count": 2},
                            "b": {"accuracy": 1.0, "count": 1},
                            "c": {"accuracy": 0.0, "count": 1}}


def test_accuracy_ties_go_to_first_target_language():
    # both rows tie a/b: argmax picks 'a' (first in langs order)
    scores = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert accuracy(scores, ["a", "b"], ["a", "b"]).accuracy == pytest.approx(0.5)
    assert accuracy(scores[:, ::-1], ["a", "b"], ["b", "a"]).per_lang["b"]["accuracy"] == 1.0


def test_cavg_closed_set_at_zero():
    # accepted (score >= 0): u1 {a}, u2 {b}, u3 {b, c}, u4 {a}
    # a: P_miss = 1/2 (u2); P_fa(a,b) = 0/1 (u3 a=-1); P_fa(a,c) = 1/1 (u4 a=.4)
    #    cost = .5*.5 + .25*(0 + 1) = .5
    # b: P_miss = 0 (u3 b=2); P_fa(b,a) = 1/2 (u2 b=.5); P_fa(b,c) = 0 (u4 b=-.3)
    #    cost = 0 + .25*.5 = .125
    # c: P_miss = 1 (u4 c=-.2); P_fa(c,a) = 0/2; P_fa(c,b) = 1/1 (u3 c=.3)
    #    cost = .5 + .25 = .75
    # Cavg = (.5 + .125 + .75) / 3 = 1.375 / 3
    curve = cavg_curve(SCORES_A, LABELS_A, LANGS_A, [0.0])
    assert curve.p_non == pytest.approx(0.25) and not curve.open_set
    assert curve.costs[0] == pytest.approx([0.5, 0.125, 0.75])
    assert cavg(SCORES_A, LABELS_A, LANGS_A) == pytest.approx(1.375 / 3)


def test_cavg_accepts_scores_equal_to_threshold():
    # threshold .5: u2's b-score .5 is AT the threshold, so it is a false alarm for b.
    # a: P_miss = 1/2 (u2 -.5); P_fa(a,b) = 0; P_fa(a,c) = 0 (.4 < .5) -> .25
    # b: P_miss = 0; P_fa(b,a) = 1/2 (u2 .5 >= .5); P_fa(b,c) = 0 -> .125
    # c: P_miss = 1; P_fa(c,.) = 0 -> .5
    # Cavg = .875 / 3
    assert cavg(SCORES_A, LABELS_A, LANGS_A, threshold=0.5) == pytest.approx(0.875 / 3)


def test_pooled_trials_case_a():
    tar, non = pooled_trials(SCORES_A, LABELS_A, LANGS_A)
    assert sorted(tar) == [-0.5, -0.2, 1.0, 2.0]
    assert sorted(non) == [-2.0, -1.0, -1.0, -1.0, -0.3, 0.3, 0.4, 0.5]
    assert eer(tar, non) == pytest.approx(0.375)   # worked in test_metrics_detection


# Case B: closed set a b (P_non = 0.5 / 1 = 0.5), 2 utterances each, scores in [0, 1].
# min-Cavg grid = linspace(0, 1, 21) = 0, .05, ..., 1.  No score but 0 and 1 lies on it.
LANGS_B = ["a", "b"]
LABELS_B = ["a", "a", "b", "b"]
SCORES_B = np.array([
    [1.00, 0.00],   # u1 (a)
    [0.33, 0.32],   # u2 (a)
    [0.18, 0.71],   # u3 (b)
    [0.31, 0.47],   # u4 (b)
])


def test_min_cavg_on_the_21_point_grid():
    # every class has 2 utterances, so each miss/false alarm adds .5 * .5 / 2 / 2 = 1/8:
    # Cavg(t) = (#targets {1.00,.33,.71,.47} below t + #non-targets {.18,.31,0,.32} >= t)/8
    #   t = 0            : 0 + 4 -> 4/8
    #   t = .05 .. .15   : 0 + 3 (.18,.31,.32) -> 3/8
    #   t = .20 .. .30   : 0 + 2 (.31,.32) -> 2/8
    #   t = .35 .. .45   : 1 (.33) + 0 -> 1/8     <- grid minimum, first at .35
    #   t = .50 .. .70   : 2 (.33,.47) -> 2/8
    #   t = .75 .. 1.0   : 3 (.33,.47,.71) -> 3/8
    # (t in (.32, .33] would give 0, but no grid point falls there.)
    expected = np.array([4] + [3] * 3 + [2] * 3 + [1] * 3 + [2] * 5 + [3] * 6) / 8
    grid = min_cavg_thresholds(SCORES_B)
    assert len(grid) == 21 and grid[0] == 0.0 and grid[-1] == 1.0
    curve = cavg_curve(SCORES_B, LABELS_B, LANGS_B, grid)
    assert curve.cavg == pytest.approx(expected)
    value, threshold = min_cavg(SCORES_B, LABELS_B, LANGS_B)
    assert value == pytest.approx(0.125)
    assert threshold == pytest.approx(0.35)
    # the exact optimum the coarse grid misses:
    assert cavg(SCORES_B, LABELS_B, LANGS_B, threshold=0.325) == 0.0


# Case C: open set, targets a b (N = 2); x and y are not targets -> one "unknown" class,
# P_non = 0.5 / N = 0.25.
LANGS_C = ["a", "b"]
LABELS_C = ["a", "b", "b", "x", "y"]
SCORES_C = np.array([
    [0.9, -0.4],    # u1 (a) right
    [-0.7, 0.6],    # u2 (b) right
    [0.2, -0.1],    # u3 (b) wrong (a)
    [0.5, -0.8],    # u4 (x) unknown
    [-0.6, 0.3],    # u5 (y) unknown
])


def test_cavg_open_set_unknown_class():
    # t = 0, classes a {u1}, b {u2,u3}, unknown {u4,u5}
    # a: P_miss = 0 (.9); P_fa(a,b) = 1/2 (u3 .2); P_fa(a,unk) = 1/2 (u4 .5)
    #    cost = 0 + .25 * (.5 + .5) = .25
    # b: P_miss = 1/2 (u3 -.1); P_fa(b,a) = 0 (u1 -.4); P_fa(b,unk) = 1/2 (u5 .3)
    #    cost = .5*.5 + .25*.5 = .375
    # Cavg = (.25 + .375) / 2 = .3125
    curve = cavg_curve(SCORES_C, LABELS_C, LANGS_C, [0.0])
    assert curve.open_set and curve.p_non == pytest.approx(0.25)
    assert curve.costs[0] == pytest.approx([0.25, 0.375])
    assert curve.cavg[0] == pytest.approx(0.3125)


def test_open_set_accuracy_and_trials():
    # accuracy only over target-language utterances: u1, u2 right, u3 wrong -> 2/3
    acc = accuracy(SCORES_C, LABELS_C, LANGS_C)
    assert acc.accuracy == pytest.approx(2 / 3) and acc.n_scored == 3
    # EER: T = {.9, .6, -.1}; N = {.5, .3, .2, -.4, -.6, -.7, -.8} (unknowns: all non-target)
    # points: .9 (0, 2/3), .6 (0, 1/3), .5 (1/7, 1/3), .3 (2/7, 1/3) [diff +1/21],
    #         .2 (3/7, 1/3) [diff -2/21]; P_miss is 1/3 along that segment -> EER 1/3
    tar, non = pooled_trials(SCORES_C, LABELS_C, LANGS_C)
    assert len(tar) == 3 and len(non) == 7
    assert eer(tar, non) == pytest.approx(1 / 3)


# Case D: closed set, targets a b c (P_non = .25), no test utterance of c.
LANGS_D = ["a", "b", "c"]
LABELS_D = ["a", "b", "b"]
SCORES_D = np.array([
    [0.5, -0.2, 0.1],    # u1 (a)
    [-0.3, 0.4, -0.5],   # u2 (b)
    [0.2, -0.6, -0.1],   # u3 (b)
])


def test_cavg_target_language_without_test_utterances():
    # t = 0; no P_fa(., c) terms (no c utterances), no P_miss(c) term.
    # a: P_miss = 0 (.5); P_fa(a,b) = 1/2 (u3 .2) -> .25 * .5 = .125
    # b: P_miss = 1/2 (u3 -.6); P_fa(b,a) = 0 (u1 -.2) -> .25
    # c: P_fa(c,a) = 1/1 (u1 .1); P_fa(c,b) = 0 (-.5, -.1) -> .25 * 1 = .25
    # Cavg = (.125 + .25 + .25) / 3 = .625 / 3   (c stays in the mean)
    curve = cavg_curve(SCORES_D, LABELS_D, LANGS_D, [0.0])
    assert curve.empty_langs == ["c"] and not curve.open_set
    assert curve.costs[0] == pytest.approx([0.125, 0.25, 0.25])
    assert curve.cavg[0] == pytest.approx(0.625 / 3)
    acc = accuracy(SCORES_D, LABELS_D, LANGS_D)
    assert acc.per_lang["c"] == {"accuracy": None, "count": 0}
    assert acc.accuracy == pytest.approx(2 / 3)


def test_confusion_matrix_rows_include_unknown_languages():
    counts, rows = confusion_matrix(SCORES_C, LABELS_C, LANGS_C)
    assert rows == ["a", "b", "x", "y"]
    # a->a; b: u2->b, u3->a; x -> a (.5 > -.8); y -> b (.3 > -.6)
    assert counts.tolist() == [[1, 0], [1, 1], [1, 0], [0, 1]]


def test_shape_and_closed_set_size_errors():
    with pytest.raises(ValueError, match="shape"):
        cavg(SCORES_A, LABELS_A[:3], LANGS_A)
    with pytest.raises(ValueError, match="two target languages"):
        cavg(np.zeros((2, 1)), ["a", "a"], ["a"])
