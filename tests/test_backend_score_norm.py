"""AS-norm against the formula worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from lidtool.backend.score_norm import adaptive_snorm, top_cohort_stats


def test_top_cohort_stats_by_hand():
    # top 2 of [1, 5, 3, 4] = {5, 4}: mean 4.5, sample std sqrt(((.5)^2 * 2) / 1) = sqrt(.5)
    mean, std = top_cohort_stats(np.array([[1.0, 5.0, 3.0, 4.0]]), 2)
    assert mean[0] == pytest.approx(4.5)
    assert std[0] == pytest.approx(np.sqrt(0.5))


def test_adaptive_snorm_equals_formula_on_hand_made_scores():
    enrol_cohort = np.array([[0.1, 0.9, 0.5, 0.3],      # top 3: .9 .5 .3 -> mean .5667
                             [0.2, 0.2, 0.8, 0.0]])     # top 3: .8 .2 .2 -> mean .4
    test_cohort = np.array([[1.0, 2.0, 3.0, 4.0]])      # top 3: 4 3 2 -> mean 3, std 1
    scores = np.array([0.7, 0.6])
    out = adaptive_snorm(scores, np.array([0, 1]), np.array([0, 0]), enrol_cohort,
                         test_cohort, top=3)
    mu_e = np.array([(0.9 + 0.5 + 0.3) / 3, (0.8 + 0.2 + 0.2) / 3])
    sd_e = np.array([np.std([0.9, 0.5, 0.3], ddof=1), np.std([0.8, 0.2, 0.2], ddof=1)])
    expected = 0.5 * ((scores - mu_e) / sd_e + (scores - 3.0) / 1.0)
    assert out == pytest.approx(expected)
    assert out[1] == pytest.approx(0.5 * ((0.6 - 0.4) / np.sqrt(0.12) + (0.6 - 3.0)))


@pytest.mark.parametrize("top", [1, 5])
def test_top_outside_the_cohort_is_refused(top):
    with pytest.raises(ValueError, match="between 2 and the cohort size"):
        top_cohort_stats(np.zeros((1, 4)), top)
