"""Span masking (fairseq semantics) and distractor sampling of wav2vec 2.0 pretraining."""
import numpy as np
import pytest

from lidtool.nnet.w2v_masking import compute_mask, sample_cross_negatives, sample_negatives


def _spans(row: np.ndarray) -> int:
    return int(np.sum(row[1:] & ~row[:-1]) + row[0])


def test_paper_setting_masks_about_29_percent_of_long_utterances():
    rng = np.random.default_rng(0)
    mask = compute_mask((8, 5000), None, 0.325, 5, 2, rng)
    frac = mask.mean()
    assert 0.27 < frac < 0.31          # 1 - (1 - 0.065)^5 = 0.285
    assert len(set(mask.sum(axis=1))) == 1


def test_padding_never_masked_and_counts_equal_across_batch():
    rng = np.random.default_rng(1)
    steps = 120
    lengths = np.array([120, 80, 40, 100])
    pad = np.arange(steps)[None, :] >= lengths[:, None]
    for _ in range(50):
        mask = compute_mask((4, steps), pad, 0.325, 5, 2, rng)
        assert not (mask & pad).any()
        counts = mask.sum(axis=1)
        assert len(set(counts)) == 1 and counts[0] > 0


def test_at_least_min_masks_spans_on_short_utterances():
    rng = np.random.default_rng(2)
    # spans of one step never merge: exactly min_masks when mask_prob asks for fewer
    for _ in range(50):
        assert compute_mask((1, 100), None, 0.0, 1, 3, rng).sum() == 3
    # 30 steps * 0.325 / 5 < 2 spans asked: min_masks = 2 spans of 5 (merged if overlapping)
    for _ in range(100):
        mask = compute_mask((1, 30), None, 0.325, 5, 2, rng)[0]
        assert 5 <= mask.sum() <= 10
        assert _spans(mask) <= 2 and (mask.sum() == 10 or _spans(mask) == 1)
    # long utterances: about mask_prob * T / M spans
    spans = [_spans(compute_mask((1, 4000), None, 0.325, 5, 2, rng)[0]) for _ in range(5)]
    assert 150 < np.mean(spans) < 260          # 260 starts, fewer after merging


def test_too_short_utterance_is_an_error():
    with pytest.raises(ValueError, match="cannot be masked"):
        compute_mask((1, 1), None, 0.325, 5, 2, np.random.default_rng(0))


def test_negatives_exclude_the_positive_and_stay_in_range():
    rng = np.random.default_rng(3)
    neg = sample_negatives(4, 7, 100, rng)
    assert neg.shape == (4, 7, 100)
    own = np.arange(7)[None, :, None]
    assert not (neg == own).any()
    assert neg.min() >= 0 and neg.max() <= 6
    # uniform over the 6 other steps
    counts = np.bincount(neg[:, 0].reshape(-1), minlength=7)
    assert counts[0] == 0 and counts[1:].min() > 40
    with pytest.raises(ValueError, match="no distractor"):
        sample_negatives(1, 1, 5, rng)


def test_cross_negatives_come_from_the_whole_batch_and_exclude_the_positive():
    rng = np.random.default_rng(4)
    neg = sample_cross_negatives(3, 5, 200, rng)
    assert neg.shape == (3, 5, 200)
    own = np.arange(15).reshape(3, 5, 1)
    assert not (neg == own).any()
    assert neg.min() >= 0 and neg.max() <= 14
    # every other step of the batch, other utterances' included, is drawn
    counts = np.bincount(neg[0, 0], minlength=15)
    assert counts[0] == 0 and counts[1:].min() > 0
    assert (neg // 5 != np.arange(3)[:, None, None]).mean() > 0.5
    with pytest.raises(ValueError, match="no distractor"):
        sample_cross_negatives(1, 1, 5, rng)


def test_same_generator_state_gives_same_mask():
    a = compute_mask((3, 200), None, 0.325, 5, 2, np.random.default_rng(7))
    b = compute_mask((3, 200), None, 0.325, 5, 2, np.random.default_rng(7))
    assert (a == b).all()
