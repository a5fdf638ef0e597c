"""Frames for UBM / i-vector work: feats.scp + vad.scp of a data dir -> CMN'd voiced frames.

Every utterance goes through `lidtool.features.pipeline.prepare_features` (sliding CMN, then
the VAD's voiced frames), is checked (dimension, at least one frame left) and is handed on
either alone or concatenated with its neighbours into chunks of about `chunk_frames` frames,
so that statistics are accumulated with large matrix products yet bounded memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from lidtool.data.tables import read_table
from lidtool.errors import DataDirError, FeatureError
from lidtool.features.io import read_matrix, read_vector
from lidtool.features.pipeline import prepare_features


@dataclass
class Chunk:
    x: torch.Tensor         # [B, D] float64 frames of several utterances
    utt_index: torch.Tensor  # [B] int64 position of each frame's utterance in `utts`
    utts: list[str]          # utterances in this chunk, in order


def iter_utterance_features(data_dir, *, dim: int | None = None, cmn_window: int = 300,
                            use_vad: bool = True, progress: str | None = None
                            ) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (utt, float32 [T, D]) in feats.scp order; errors name feats.scp/vad.scp and line.

    `progress`: a description for a tqdm bar on stderr (shown when stderr is a terminal).
    """
    data_dir = Path(data_dir)
    feats_path = data_dir / "feats.scp"
    if not feats_path.is_file():
        raise DataDirError(feats_path, "file does not exist",
                           fix="run the feature stage for this data dir first")
    feats = read_table(feats_path)
    vad = None
    if use_vad:
        vad_path = data_dir / "vad.scp"
        if vad_path.is_file():
            vad = read_table(vad_path)
    items = feats.items()
    if progress:
        items = tqdm(items, total=len(feats), desc=progress, unit="utt", disable=None)
    for utt, spec in items:
        line = feats.lines[utt]
        mat = read_matrix(spec, where=(str(feats_path), line))
        if mat.ndim != 2 or mat.shape[0] == 0:
            raise FeatureError(feats_path, f"utterance '{utt}' has no frames", line=line,
                               fix="remove it from the data dir (utils/fix_data_dir.sh)")
        if dim is not None and mat.shape[1] != dim:
            raise FeatureError(feats_path, f"utterance '{utt}' has feature dimension "
                               f"{mat.shape[1]}, the model expects {dim}", line=line,
                               fix="use the features the UBM was trained on")
        decisions = None
        if vad is not None:
            if utt not in vad:
                raise DataDirError(vad.path, f"no VAD entry for utterance '{utt}'",
                                   fix="recompute VAD or utils/fix_data_dir.sh")
            where = (vad.path, vad.lines[utt])
            decisions = read_vector(vad[utt], where=where)
        else:
            where = (str(feats_path), line)
        x = prepare_features(mat, vad=decisions, cmn_window=cmn_window, utt=utt, where=where)
        yield utt, np.asarray(x, dtype=np.float32)


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
