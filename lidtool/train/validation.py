"""Validation during training (`data.valid_dir`, every `train.valid_every` steps).

Each validation utterance gives one deterministic chunk: its first `data.max_chunk` prepared
frames (repeat-padded when shorter, the training rule). The model that final.pt would hold
now (the WMA model when WMA is on) scores the chunks in eval mode without gradients, with
margin-free logits as inference sees them; `valid_loss` (mean cross-entropy) and
`valid_acc` go into that step's train_log.jsonl row. Nothing here draws random numbers, and
the torch RNG state is restored anyway, so training is identical with and without it.
Under DDP every rank evaluates the whole set (identical results; rank 0 logs them).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lidtool.train.data import TrainData, load_train_data, repeat_pad


def build_validator(cfg: dict, train: TrainData, device) -> "Validator | None":
    """The validator of `data.valid_dir` (labels from the training data's label table and
    classes), or None without one."""
    d = cfg["data"]
    if not d["valid_dir"]:
        return None
    valid = load_train_data(d["valid_dir"], train.classes, cmn_window=int(d["cmn_window"]),
                            min_frames=int(d["min_frames"]), label_table=train.label_table)
    return Validator(valid, int(d["max_chunk"]), int(cfg["train"]["batch_size"]), device)


class Validator:
    def __init__(self, data: TrainData, chunk: int, batch_size: int, device):
        self.data, self.device = data, torch.device(device)
        self.chunk, self.batch_size = int(chunk), int(batch_size)

    def _batches(self):
        n = len(self.data)
        for lo in range(0, n, self.batch_size):
            idx = range(lo, min(n, lo + self.batch_size))
            x = np.stack([repeat_pad(self.data.get(i), self.chunk)[:self.chunk] for i in idx])
            yield (torch.from_numpy(x).to(self.device),
                   torch.from_numpy(self.data.labels[lo:lo + len(idx)]).to(self.device))

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> dict:
        rng = torch.get_rng_state()
        was_training = model.training
        model.eval()
        total, correct, count = 0.0, 0, 0
        try:
            for x, y in self._batches():
                logits = model(x).float()
                total += float(F.cross_entropy(logits, y, reduction="sum"))
                correct += int((logits.argmax(dim=1) == y).sum())
                count += len(y)
        finally:
            model.train(was_training)
            torch.set_rng_state(rng)
        return {"valid_loss": round(total / count, 6), "valid_acc": round(correct / count, 6)}
