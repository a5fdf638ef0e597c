"""wav2vec 2.0 losses: contrastive logits/loss and the diversity term."""
import math

import torch

from lidtool.losses.contrastive import (contrastive_logits, contrastive_loss, diversity_loss,
                                        perplexity)


def test_diversity_zero_at_uniform_use_and_high_at_collapse():
    g, v = 2, 320
    uniform = torch.full((g, v), 1.0 / v)
    assert abs(float(diversity_loss(perplexity(uniform), g, v))) < 1e-4
    collapsed = torch.zeros(g, v)
    collapsed[:, 3] = 1.0
    assert math.isclose(float(diversity_loss(perplexity(collapsed), g, v)), 1 - 1 / v,
                        rel_tol=1e-4)


def test_contrastive_logits_cosine_over_temperature_and_identical_negative_is_minus_inf():
    torch.manual_seed(0)
    y = torch.randn(1, 3, 4)
    y[0, 2] = y[0, 0]                       # step 2 repeats step 0's target
    c = y.clone()
    neg = torch.tensor([[[1, 2], [0, 2], [0, 1]]])
    logits = contrastive_logits(c, y, neg, 0.1)
    assert logits.shape == (1, 3, 3)
    assert torch.allclose(logits[..., 0], torch.full((1, 3), 10.0), atol=1e-4)
    assert logits[0, 0, 2] == float("-inf") and logits[0, 2, 1] == float("-inf")
    assert torch.isfinite(logits[0, 1]).all()
    loss, acc = contrastive_loss(logits)
    assert float(acc) == 1.0 and float(loss) < 0.01


def test_contrastive_logits_match_direct_cosines():
    torch.manual_seed(1)
    c, y = torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    neg = torch.randint(0, 5, (2, 6, 4))
    neg = neg + (neg >= torch.arange(6)[None, :, None])
    logits = contrastive_logits(c, y, neg, 0.5)
    for b, m, k in [(0, 0, 0), (1, 5, 3), (1, 2, 1)]:
        pos = torch.nn.functional.cosine_similarity(c[b, m], y[b, m], dim=0) / 0.5
        other = torch.nn.functional.cosine_similarity(c[b, m], y[b, neg[b, m, k]], dim=0) / 0.5
        assert torch.allclose(logits[b, m, 0], pos, atol=1e-5)
        assert torch.allclose(logits[b, m, k + 1], other, atol=1e-5)


def _codebook_batch(seed: int, entries: int, batch: int, steps: int, dim: int, k: int):
    """(codeword ids [B, M], targets y [B, M, dim] drawn from a codebook of `entries` (as the
    quantiser's are, so targets repeat), contexts c [B, M, dim], K same-utterance negatives
    [B, M, K] that are never the step itself)."""
    torch.manual_seed(seed)
    book = torch.randn(entries, dim)
    pick = torch.randint(0, entries, (batch, steps))
    c = torch.randn(batch, steps, dim)
    neg = torch.randint(0, steps - 1, (batch, steps, k))
    return pick, book[pick], c, neg + (neg >= torch.arange(steps)[None, :, None])


def test_identical_negatives_found_across_a_batch_with_repeats():
    # every negative whose vector equals its step's target is -inf, every other one finite
    pick, y, c, neg = _codebook_batch(2, entries=3, batch=4, steps=7, dim=5, k=5)
    logits = contrastive_logits(c, y, neg, 0.1)
    same = pick.gather(1, neg.reshape(4, -1)).reshape(neg.shape) == pick.unsqueeze(2)
    assert same.any() and (~same).any()
    assert torch.equal(torch.isinf(logits[..., 1:]), same)


def test_cross_negatives_are_cosines_to_any_step_of_the_batch_and_minus_inf_when_identical():
    pick, y, c, neg = _codebook_batch(3, entries=4, batch=3, steps=5, dim=6, k=2)
    cross = torch.randint(0, 14, (3, 5, 6))
    cross = cross + (cross >= torch.arange(15).reshape(3, 5, 1))
    logits = contrastive_logits(c, y, neg, 0.1, cross)
    assert logits.shape == (3, 5, 1 + 2 + 6)
    flat_y, flat_pick = y.reshape(15, 6), pick.reshape(15)
    same = flat_pick[cross] == pick.unsqueeze(2)
    assert same.any() and (~same).any()
    assert torch.equal(torch.isinf(logits[..., 3:]), same)
    for b, m, k in [(0, 0, 0), (2, 4, 5), (1, 3, 2)]:
        if not same[b, m, k]:
            want = torch.nn.functional.cosine_similarity(c[b, m], flat_y[cross[b, m, k]],
                                                         dim=0) / 0.1
            assert torch.allclose(logits[b, m, 3 + k], want, atol=1e-4)
    # without cross negatives the first 1 + K columns are unchanged
    assert torch.equal(contrastive_logits(c, y, neg, 0.1), logits[..., :3])
