"""Multi-task training: language classification + frame-level "virtual phoneme" labels.

METHODS.md section 2: a frame-level phoneme classifier M_p (lidtool.nnet.phone_head) sits on
a frame layer of the shared encoder M_e and is trained on the phone recogniser's per-frame
pdf-ids (`data.frame_labels`), next to the language classifier:

    L_total = L_c + alpha * L_p,   L_p = mean over all frames of the batch of
                                         CE(M_p(M_e(x_t)), phone_t)

Where the branch sits (`multitask.layer`, 1-based frame layer of the TDNN encoder): by
default the last 512-wide frame layer before the 1500-wide one (E-TDNN layer 9, x-vector
TDNN layer 4), i.e. the top of the shared frame encoder that still feeds the pooling layer
through a single 1x1 layer. Its frames are aligned with the labels through the encoder's
frame offset (Backbone.forward_frames), so frame t of the branch is scored against the
label of the input frame its receptive field is centred on.

For heads that take per-sample side information (APM-Softmax, `aux_inputs = ("phone_conf",)`)
the strategy passes phone_conf = lidtool.losses.margins.phone_confidence(phone logits): the
mean over the chunk's frames of the branch's highest posterior. The head detaches it unless
`head.detach_conf: false` (see lidtool.losses.margins).

The strategy owns M_p (like WADCL's h_r): its parameters are in the optimiser, its weights in
the checkpoint's strategy state and its BatchNorm statistics are synchronised under DDP, but
it is not part of the LID model, so final.pt (and the WMA model) has no phoneme parameters and
inference is unchanged.

Logged per step: loss (= L_total, what is optimised), lang_loss (L_c), phone_loss (L_p),
acc (language accuracy of the margin-free scores, as inference sees them; a margin head's
training logits would understate it), phone_acc (frame accuracy), phone_conf (batch mean of
p_i) and, for APM heads, apm_margin (batch mean of P_i = m + beta * p_i). The trainer adds
margin (the scheduled m) when `head.schedule` is set.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lidtool.errors import ConfigError
from lidtool.losses.margins import phone_confidence
from lidtool.nnet.phone_head import PhoneClassifier
from lidtool.train.strategies import Strategy, register_strategy


@register_strategy
class MultitaskStrategy(Strategy):
    name = "multitask"
    sections = {"multitask": {"alpha": 0.3, "layer": None, "hidden": [512]}}
    uses_frame_labels = True
    provides_aux = ("phone_conf",)

    def setup(self) -> None:
        super().setup()
        t, mt = self.t, self.cfg["multitask"]
        if t.data.frame_labels is None:
            raise ConfigError(t.source, "train.strategy=multitask needs frame labels",
                              fix="set data.frame_labels to the phone recogniser's ali.scp, "
                              "e.g. --override data.frame_labels=exp/phone_labels/train/ali.scp")
        try:
            self.alpha = float(mt["alpha"])
        except (TypeError, ValueError):
            self.alpha = float("nan")
        if not math.isfinite(self.alpha) or self.alpha < 0:
            raise ConfigError(t.source, f"multitask.alpha must be a number >= 0, "
                              f"got {mt['alpha']!r}")
        try:
            self.layer, channels, _ = t.model.backbone.frame_tap(mt["layer"])
            self.phone_head = PhoneClassifier(channels, t.data.num_phones,
                                              mt["hidden"] or []).to(t.device)
        except (TypeError, ValueError) as err:
            raise ConfigError(t.source, f"multitask: {err}") from None
        t.broadcast(self.phone_head)

    def parameters(self):
        return list(self.t.model.parameters()) + list(self.phone_head.parameters())

    def modules(self):
        return [self.t.model, self.phone_head]

    def losses(self, x, y, phones) -> tuple[torch.Tensor, dict]:
        """(L_total, metrics) of one batch: x [B, L, D], y [B], phones [B, L]."""
        model = self.t.model
        pooled, frames, offset = model.backbone.forward_frames(x, self.layer)
        phone_logits = self.phone_head(frames)                         # [B, T_k, P]
        targets = phones[:, offset:offset + phone_logits.shape[1]].long()
        phone_loss = F.cross_entropy(phone_logits.reshape(-1, phone_logits.shape[-1]),
                                     targets.reshape(-1))
        conf = phone_confidence(phone_logits)
        emb = model.classifier.head_input(pooled)
        head = model.classifier.head
        logits = head(emb, y, phone_conf=conf)
        lang_loss = F.cross_entropy(logits, y)
        loss = lang_loss + self.alpha * phone_loss
        with torch.no_grad():
            scores = head(emb)                              # margin-free, as in inference
            metrics = {
                "loss": float(loss), "lang_loss": float(lang_loss),
                "phone_loss": float(phone_loss),
                "acc": float((scores.argmax(dim=1) == y).float().mean()),
                "phone_acc": float((phone_logits.argmax(dim=-1) == targets).float().mean()),
                "phone_conf": float(conf.mean())}
            if hasattr(head, "sample_margins"):
                metrics["apm_margin"] = float(head.sample_margins(conf.detach(),
                                                                  len(conf)).mean())
        return loss, metrics

    def train_step(self, step: int) -> dict:
        self.t.model.train()
        self.phone_head.train()
        return self.t.update("main", self.losses, frames=True)

    def state_dict(self) -> dict:
        return {"phone_head": self.phone_head.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.phone_head.load_state_dict(state["phone_head"])
