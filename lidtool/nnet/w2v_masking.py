"""Span masking and distractor sampling of wav2vec 2.0 pretraining (fairseq semantics).

``compute_mask``: for each utterance of S unpadded steps, int(mask_prob * S / M + U(0,1))
span starts (at least ``min_masks``) are drawn without replacement from the first S - M
steps; each span covers M steps and overlapping spans merge. ``mask_prob`` is therefore
fairseq's unit, p * M: the paper's p = 0.065 and M = 5 is mask_prob 0.325 and masks about
1 - (1 - 0.065)^5 = 29 % of the steps. Every utterance of the batch is then trimmed (a random
subset of its masked steps kept) to the smallest masked count, so that targets stack into
[B, M_n, ...]. Padding (at the end of a row, as the encoder's pad_mask has it) is never masked.

``sample_negatives``: K distractors per masked step, uniformly with replacement from the
other masked steps of the same utterance (the positive's own index skipped by drawing from
M_n - 1 values and shifting the ones at or above it up by one).

``sample_cross_negatives``: fairseq's ``cross_sample_negatives``, an optional second set of
distractors drawn uniformly with replacement from the masked steps of the whole batch (any
utterance, the positive's own step skipped), as indices into the batch's flattened masked
steps [B * M_n].

All randomness comes from the numpy Generator passed in (the pretraining strategy seeds it
from (train.seed, step, rank)), so masks and distractors of a resumed run are the same.
"""
from __future__ import annotations

import numpy as np


def compute_mask(shape: tuple[int, int], pad_mask: np.ndarray | None, mask_prob: float,
                 mask_length: int, min_masks: int, rng: np.random.Generator) -> np.ndarray:
    """bool [B, T], True = masked; the same number of masked steps in every row."""
    batch, steps = shape
    if pad_mask is None:
        sizes = np.full(batch, steps, dtype=np.int64)
    else:
        pad_mask = np.asarray(pad_mask, dtype=bool)
        if pad_mask.shape != (batch, steps):
            raise ValueError(f"pad_mask shape {pad_mask.shape} is not {tuple(shape)}")
        sizes = steps - pad_mask.sum(axis=1)
    chosen = []
    for size in sizes:
        size = int(size)
        if size < 2:
            raise ValueError(f"an utterance of {size} step(s) cannot be masked (need >= 2; "
                             "use longer crops)")
        span = min(mask_length, size - 1)   # leave at least one step unmasked
        num = max(min_masks, int(mask_prob * size / mask_length + rng.random()))
        starts_from = max(size - span, 1)
        num = min(num, starts_from)
        starts = rng.choice(starts_from, num, replace=False)
        idx = np.unique((starts[:, None] + np.arange(span)[None, :]).reshape(-1))
        chosen.append(idx[idx < size])
    count = min(len(c) for c in chosen)
    mask = np.zeros(shape, dtype=bool)
    for row, idx in enumerate(chosen):
        if len(idx) > count:
            idx = rng.choice(idx, count, replace=False)
        mask[row, idx] = True
    return mask


def sample_negatives(batch: int, num_masked: int, num_negatives: int,
                     rng: np.random.Generator) -> np.ndarray:
    """int64 [B, M_n, K]: for masked step m of row b, K indices into that row's masked steps,
    never m itself."""
    if num_masked < 2:
        raise ValueError(f"{num_masked} masked step(s) per utterance leave no distractor")
    own = np.broadcast_to(np.arange(num_masked)[None, :, None], (batch, num_masked, 1))
    return _draw_others(own, num_masked, num_negatives, rng)


def sample_cross_negatives(batch: int, num_masked: int, num_negatives: int,
                           rng: np.random.Generator) -> np.ndarray:
    """int64 [B, M_n, K]: for masked step m of row b, K indices into the batch's flattened
    masked steps (row-major, b * M_n + m), never b * M_n + m itself."""
    total = batch * num_masked
    if total < 2:
        raise ValueError(f"{total} masked step(s) in the batch leave no distractor")
    return _draw_others(np.arange(total).reshape(batch, num_masked, 1), total,
                        num_negatives, rng)


def _draw_others(own: np.ndarray, high: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """[B, M_n, k] indices uniform over 0..high-1 except `own` [B, M_n, 1]: k draws from the
    high - 1 other values, those at or above own shifted up by one."""
    draw = rng.integers(0, high - 1, size=own.shape[:2] + (k,))
    return draw + (draw >= own)
