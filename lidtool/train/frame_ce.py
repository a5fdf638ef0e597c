"""Frame-level cross-entropy (`train.strategy: frame_ce`): train a frame model (the
bottleneck network, `model.name: bnf`, lidtool.nnet.bnf) on per-frame labels.

The labels are `data.frame_labels` (a phone recogniser's forced alignments: one pdf-id per
feature frame); there is no utterance label (`data.label_table: none`). The model has one
output per frame class (`num_outputs` = the frame labels' number of classes).

Each step one batch of the `main` sampler: chunks of L frames (`data.min_chunk` ..
`data.max_chunk`; the bnf recipe uses one length, its chunk size + 2 * context) with their
frame labels, cropped together. The unpadded convolutions give L - 2 * context outputs,
scored against the labels of the chunk's centre frames. Logged: loss, acc (frame accuracy).

Like every training run, the chunks hold only the voiced frames when the data dir has a
vad.scp (the bnf recipe's lists have none: the network sees every frame).

Validation (`data.valid_dir`, whose utterances must be in data.frame_labels): every
utterance whole (the same frame selection), its edges padded by repeating the first and last frame as bnf extraction
does, so every frame is scored; `valid_loss` is the mean cross-entropy per frame and
`valid_acc` the frame accuracy.

final.pt is a "bnf" artifact: the frame model's weights and `num_pdfs`; lidtool.asr.bnf
(BnfModel, make-bnf) loads it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lidtool.errors import ConfigError
from lidtool.nnet.bnf import pad_edges
from lidtool.train.data import TrainData, attach_frame_labels, load_train_data
from lidtool.train.labels import NO_LABELS
from lidtool.train.strategies import Strategy, register_strategy


def frame_ce(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"):
    """(cross-entropy, number of correct frames) of logits [B, P, T] against labels [B, T]."""
    loss = F.cross_entropy(logits, labels, reduction=reduction)
    correct = (logits.detach().argmax(dim=1) == labels).sum()
    return loss, int(correct)


@register_strategy
class FrameCEStrategy(Strategy):
    name = "frame_ce"
    uses_frame_labels = True
    needs_classes = False

    @classmethod
    def num_outputs(cls, data) -> int:
        return int(data.num_phones)

    def setup(self) -> None:
        t = self.t
        self.context = getattr(t.model, "context", None)
        if self.context is None:
            raise ConfigError(t.source, f"train.strategy=frame_ce needs a frame model "
                              f"(model.name: bnf), not '{self.cfg['model']['name']}'")
        shortest = int(self.cfg["data"]["min_chunk"])
        if shortest <= 2 * self.context:
            raise ConfigError(t.source, f"data.min_chunk={shortest} leaves no frame to score: "
                              f"the model needs {self.context} frames of context on each side",
                              fix=f"set data.min_chunk > {2 * self.context}")
        super().setup()

    def heads(self) -> list:
        return []

    def losses(self, x, y, frames) -> tuple[torch.Tensor, dict]:
        c = self.context
        logits = self.t.model(x)                              # [B, P, L - 2c]
        targets = frames[:, c:c + logits.shape[2]]
        loss, correct = frame_ce(logits, targets)
        return loss, {"loss": float(loss.detach()), "acc": correct / targets.numel()}

    def train_step(self, step: int) -> dict:
        self.t.model.train()
        return self.t.update("main", self.losses, frames=True)

    def validator(self):
        d = self.cfg["data"]
        if not d["valid_dir"]:
            return None
        valid = load_train_data(d["valid_dir"], [], cmn_window=int(d["cmn_window"]),
                                min_frames=1, label_table=NO_LABELS)
        attach_frame_labels(valid, d["frame_labels"], self.t.data.num_phones, self.t.source)
        return FrameValidator(valid, self.context, self.t.device)

    def artifact(self, weights: dict) -> dict:
        return {"kind": "bnf", "model": weights, "num_pdfs": int(self.t.data.num_phones)}


class FrameValidator:
    """Frame cross-entropy and accuracy of whole utterances with frame labels."""

    def __init__(self, data: TrainData, context: int, device):
        self.data, self.context, self.device = data, int(context), torch.device(device)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> dict:
        was_training = model.training
        model.eval()
        total, correct, frames = 0.0, 0, 0
        try:
            for i in range(len(self.data)):
                x = pad_edges(self.data.get(i), self.context, self.context)
                x = torch.from_numpy(np.ascontiguousarray(x))[None].to(self.device)
                y = torch.from_numpy(self.data.frame_labels[i].astype(np.int64))[None]
                loss, ok = frame_ce(model(x).float(), y.to(self.device), reduction="sum")
                total += float(loss)
                correct += ok
                frames += y.shape[1]
        finally:
            model.train(was_training)
        return {"valid_loss": round(total / frames, 6), "valid_acc": round(correct / frames, 6)}
