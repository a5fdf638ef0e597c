"""Frames for UBM / i-vector work: feats.scp + vad.scp of a data dir -> CMN'd voiced frames.

Every utterance goes through `lidtool.features.pipeline.prepare_features` (sliding CMN, then
the VAD's voiced frames), is checked (dimension, at least one frame left) and is handed on
either alone or concatenated with its neighbours into chunks of about `chunk_frames` frames,
so that statistics are accumulated with large matrix products yet bounded memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from lidtool.errors import FeatureError
from lidtool.features.reader import FeatureReader


@dataclass
class Chunk:
    x: torch.Tensor         # [B, D] float64 frames of several utterances
    utt_index: torch.Tensor  # [B] int64 position of each frame's utterance in `utts`
    utts: list[str]          # utterances in this chunk, in order


def iter_utterance_features(data_dir, *, dim: int | None = None, cmn_window: int = 300,
                            use_vad: bool = True, progress: str | None = None
                            ) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (utt, float32 [T, D]) in feats.scp order (`lidtool.features.reader`); errors
    name feats.scp/vad.scp and line.

    `progress`: a description for a tqdm bar on stderr (shown when stderr is a terminal).
    """
    reader = FeatureReader(data_dir, cmn_window=cmn_window, use_vad=use_vad, dim=dim)
    utts = reader.utts
    if progress:
        utts = tqdm(utts, total=len(utts), desc=progress, unit="utt", disable=None)
    for utt in utts:
        yield utt, reader.get(utt)


def chunk_utterances(utterances: Iterable[tuple[str, np.ndarray]],
                     chunk_frames: int = 20000, dim: int | None = None,
                     where: str = "<features>", max_utts: int | None = None) -> Iterator[Chunk]:
    """Group (utt, [T, D]) into chunks of >= chunk_frames frames (last one smaller) and at
    most `max_utts` utterances.

    Works on any iterable, so library code and tests can feed arrays directly.
    """
    xs, idx, utts, total = [], [], [], 0
    for utt, x in utterances:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[0] == 0:
            raise FeatureError(where, f"utterance '{utt}' is empty (no frames)")
        if dim is not None and x.shape[1] != dim:
            raise FeatureError(where, f"utterance '{utt}' has feature dimension {x.shape[1]}, "
                               f"the model expects {dim}")
        if not np.isfinite(x).all():
            raise FeatureError(where, f"utterance '{utt}' has NaN/Inf features")
        xs.append(torch.as_tensor(x, dtype=torch.float64))
        idx.append(torch.full((x.shape[0],), len(utts), dtype=torch.int64))
        utts.append(utt)
        total += x.shape[0]
        if total >= chunk_frames or (max_utts is not None and len(utts) >= max_utts):
            yield Chunk(torch.cat(xs), torch.cat(idx), utts)
            xs, idx, utts, total = [], [], [], 0
    if xs:
        yield Chunk(torch.cat(xs), torch.cat(idx), utts)


def default_chunk_frames(num_comps: int, budget: int = 4_000_000) -> int:
    """Frames per chunk so that a [frames x components] matrix stays ~32 MB."""
    return int(max(1000, min(50000, budget // max(1, num_comps))))


def default_max_utts(num_comps: int, dim: int, ivector_dim: int) -> int:
    """Utterances per chunk for i-vector work: [U, C, D] statistics and [U, R, R] posterior
    covariances each stay around 80 MB (float64)."""
    return int(max(1, min(10_000_000 // (num_comps * dim), 10_000_000 // ivector_dim ** 2)))
