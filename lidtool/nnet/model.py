"""The LID network: frame encoder -> statistics pooling -> segment (FC) layers -> head.

``LIDNet`` is split in the two parts the decoupled methods need:

  - ``backbone`` (phi): frame encoder + statistics pooling, x [B, T, F] -> pooled [B, 2C];
  - ``classifier`` (h): FC segment layers (affine -> ReLU -> BatchNorm each, widths from
    ``model.hidden``) followed by the classifier head (``lidtool.losses``), pooled -> logits.

``model.activation`` (relu | leaky_relu, with ``model.leaky_slope``, default 0.01) sets the
nonlinearity of the TDNN frame layers and of the segment layers alike (TDNN encoders only).
The x-vector of the DropClass paper is ``hidden: [512]`` with ``activation: leaky_relu``:
its classifier head sits directly on the 512-d embedding (``fc1_out``), no further hidden
layer.

Embeddings can be taken at a named layer: ``pool`` (the statistics vector), ``fcN`` (affine
output of the N-th segment layer, the Kaldi x-vector choice for N = 1) or ``fcN_out`` (after
its ReLU and BatchNorm).

Encoders are chosen by ``model.name`` in the YAML config (see ENCODERS); every other key
under ``model`` except ``hidden`` and ``embedding_layer`` is passed to the encoder builder.
The ``head`` section names the classifier head and its options; its ``schedule`` key (a
margin warm-up, ``lidtool.losses.schedule``) is for the trainer and not a head option.

Frame models (FRAME_MODELS, e.g. ``model.name: bnf``, lidtool.nnet.bnf) are not LIDNets: they
map x [B, T + 2 * context, F] to per-frame logits [B, C, T]; ``hidden`` and
``embedding_layer`` do not apply to them and every other model key is a builder option.

``Backbone.forward_frames(x, layer)`` also returns a frame layer's output (TDNN encoders),
for the multi-task phoneme branch, which the training strategy owns (never part of LIDNet).
"""
from __future__ import annotations

import torch
from torch import nn

from lidtool.errors import ConfigError
from lidtool.losses.base import build_head, head_names
from lidtool.nnet.activations import DEFAULT_LEAKY_SLOPE, make_activation
from lidtool.nnet.bnf import BnfNet
from lidtool.nnet.pooling import StatsPooling
from lidtool.nnet.resnet import resnet32, resnet34
from lidtool.nnet.tdnn import etdnn, xvector_tdnn

ENCODERS = {"tdnn": xvector_tdnn, "etdnn": etdnn, "resnet32": resnet32, "resnet34": resnet34}
FRAME_MODELS = {"bnf": BnfNet}     # (feat_dim, num_classes, **options) -> frame classifier
# model-section keys that are not encoder options (init/freeze*: the trainer's, see
# lidtool.train.init)
MODEL_KEYS = ("name", "hidden", "embedding_layer", "init", "freeze", "freeze_steps")
HEAD_TRAINER_KEYS = ("name", "schedule")   # head-section keys that are not head options


class Backbone(nn.Module):
    """phi: frame encoder + statistics pooling."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.pool = StatsPooling()
        self.out_dim = 2 * encoder.out_dim
        self.min_frames = encoder.min_frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.encoder(x))

    def frame_tap(self, layer: int | None = None) -> tuple[int, int, int]:
        """(layer, channels, frame offset) of a frame layer (None: the encoder's default
        tap); ValueError if the encoder has no frame layers to tap (ResNets)."""
        if not hasattr(self.encoder, "forward_tap"):
            raise ValueError(f"the {type(self.encoder).__name__} encoder has no frame layers "
                             "for a frame-level branch (use a TDNN: tdnn or etdnn)")
        layer = self.encoder.default_tap if layer is None else layer
        channels, offset = self.encoder.tap_info(layer)
        return layer, channels, offset

    def forward_frames(self, x: torch.Tensor, layer: int | None = None):
        """(pooled [B, 2C], frame layer output [B, C_k, T_k], frame offset of the latter)."""
        layer, _, _ = self.frame_tap(layer)
        out, frames, offset = self.encoder.forward_tap(x, layer)
        return self.pool(out), frames, offset


class Classifier(nn.Module):
    """h: segment FC layers + classifier head."""

    def __init__(self, in_dim: int, hidden, num_classes: int, head: str = "softmax",
                 head_options: dict | None = None, activation: str = "relu",
                 leaky_slope: float = DEFAULT_LEAKY_SLOPE):
        super().__init__()
        self.args = dict(in_dim=in_dim, hidden=list(hidden), num_classes=num_classes,
                         head=head, head_options=dict(head_options or {}),
                         activation=activation, leaky_slope=leaky_slope)
        self.fcs, self.acts = nn.ModuleList(), nn.ModuleList()
        dim = in_dim
        for width in hidden:
            self.fcs.append(nn.Linear(dim, int(width)))
            self.acts.append(nn.Sequential(make_activation(activation, leaky_slope),
                                           nn.BatchNorm1d(int(width))))
            dim = int(width)
        self.head = build_head(head, dim, num_classes, **(head_options or {}))
        self.embed_dim = dim

    def fresh(self) -> "Classifier":
        """A newly initialised classifier of the same shape (WADCL's h_r, DCL re-training)."""
        return Classifier(**self.args)

    def layer_outputs(self, pooled: torch.Tensor):
        """Yield (name, tensor) for pool, fc1, fc1_out, fc2, ..."""
        x = pooled
        yield "pool", x
        for i, (fc, act) in enumerate(zip(self.fcs, self.acts), 1):
            x = fc(x)
            yield f"fc{i}", x
            x = act(x)
            yield f"fc{i}_out", x

    def head_input(self, pooled: torch.Tensor) -> torch.Tensor:
        """The segment layers' output, i.e. what the head sees."""
        x = pooled
        for fc, act in zip(self.fcs, self.acts):
            x = act(fc(x))
        return x

    def forward(self, pooled: torch.Tensor, labels: torch.Tensor | None = None,
                **aux) -> torch.Tensor:
        return self.head(self.head_input(pooled), labels, **aux)

    def embed(self, pooled: torch.Tensor, layer: str) -> torch.Tensor:
        for name, value in self.layer_outputs(pooled):
            if name == layer:
                return value
        raise ValueError(f"no layer '{layer}' (have: pool, fc1..fc{len(self.fcs)}[_out])")


class LIDNet(nn.Module):
    def __init__(self, backbone: Backbone, classifier: Classifier, embedding_layer: str = "fc1"):
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier
        self.embedding_layer = embedding_layer

    @property
    def min_frames(self) -> int:
        return self.backbone.min_frames

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                **aux) -> torch.Tensor:
        return self.classifier(self.backbone(x), labels, **aux)

    def embed(self, x: torch.Tensor, layer: str | None = None) -> torch.Tensor:
        return self.classifier.embed(self.backbone(x), layer or self.embedding_layer)


def _layer_names(n_hidden: int) -> list[str]:
    names = ["pool"]
    for i in range(1, n_hidden + 1):
        names += [f"fc{i}", f"fc{i}_out"]
    return names


def build_model(model_cfg: dict, head_cfg: dict, feat_dim: int, num_classes: int,
                source: str = "<config>") -> nn.Module:
    """Build a LIDNet (or a frame model of FRAME_MODELS) from the `model` and `head` config
    sections.

    `source` names the config file in errors (unknown model/head name, bad options).
    """
    name = model_cfg.get("name")
    enc_opts = {k: v for k, v in model_cfg.items() if k not in MODEL_KEYS}
    if name in FRAME_MODELS:
        try:
            return FRAME_MODELS[name](feat_dim, num_classes, **enc_opts)
        except (TypeError, ValueError) as err:
            raise ConfigError(source, f"model: bad options {enc_opts} for '{name}': "
                              f"{err}") from None
    if name not in ENCODERS:
        raise ConfigError(source, f"model.name: unknown model '{name}'",
                          fix=f"use one of: {', '.join(sorted({**ENCODERS, **FRAME_MODELS}))}")
    try:
        encoder = ENCODERS[name](feat_dim, **enc_opts)
    except (TypeError, ValueError) as err:
        raise ConfigError(source, f"model: bad options {enc_opts} for '{name}': {err}") from None
    hidden = model_cfg.get("hidden", [512])
    if not isinstance(hidden, (list, tuple)) or not all(
            isinstance(h, int) and h > 0 for h in hidden):
        raise ConfigError(source, f"model.hidden must be a list of positive ints, got {hidden!r}")
    layer = model_cfg.get("embedding_layer", "fc1" if hidden else "pool")
    if layer not in _layer_names(len(hidden)):
        raise ConfigError(source, f"model.embedding_layer: unknown layer '{layer}'",
                          fix=f"use one of: {', '.join(_layer_names(len(hidden)))}")
    backbone = Backbone(encoder)
    head = head_cfg.get("name", "softmax")
    head_opts = {k: v for k, v in head_cfg.items() if k not in HEAD_TRAINER_KEYS}
    # the encoder took (and checked) these; the segment layers use the same nonlinearity
    act_opts = {k: model_cfg[k] for k in ("activation", "leaky_slope") if k in model_cfg}
    try:
        classifier = Classifier(backbone.out_dim, hidden, num_classes, head, head_opts,
                                **act_opts)
    except KeyError:
        raise ConfigError(source, f"head.name: unknown classifier head '{head}'",
                          fix=f"use one of: {', '.join(head_names())}") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(source, f"head: bad options {head_opts} for '{head}': {err}") from None
    return LIDNet(backbone, classifier, layer)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


