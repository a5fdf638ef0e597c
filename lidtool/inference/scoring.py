"""Running a trained model (final.pt) on whole utterances: log-posteriors and embeddings.

Each utterance is used whole (no chunking): prepared features (sliding CMN -> voiced
frames, as in training) -> network. Scores are log-softmax outputs over the model's
classes. An utterance shorter than the network's receptive field is repeat-padded (the same
rule as training chunks).
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from lidtool.train.data import repeat_pad


@torch.no_grad()
def forward_utterance(model, feats: np.ndarray, device, layer: str | None = None,
                      embed: bool = False) -> np.ndarray:
    """Log-posteriors [C] (or the embedding at `layer` when `embed`) of one utterance."""
    feats = repeat_pad(np.asarray(feats, dtype=np.float32), model.min_frames)
    x = torch.from_numpy(np.ascontiguousarray(feats)).unsqueeze(0).to(device)
    if embed:
        return model.embed(x, layer)[0].float().cpu().numpy()
    return torch.log_softmax(model(x).float(), dim=1)[0].cpu().numpy()


def score_utterances(model, items, device, desc: str = "infer"):
    """items: iterable of (utt, feats) -> (utts, log-posterior matrix [N, C])."""
    utts, rows = [], []
    for utt, feats in tqdm(items, desc=desc, unit="utt", mininterval=5):
        utts.append(utt)
        rows.append(forward_utterance(model, feats, device))
    return utts, np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def embed_utterances(model, items, device, layer: str | None = None, desc: str = "embed"):
    for utt, feats in tqdm(items, desc=desc, unit="utt", mininterval=5):
        yield utt, forward_utterance(model, feats, device, layer=layer, embed=True)
