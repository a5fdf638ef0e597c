"""LID fine-tuning of a wav2vec 2.0 encoder (lidtool.nnet.w2v_lid, pooling.MaskedPooling):
keep_blocks truncates, every pooling trains and ignores padding, model.init copies exactly
the pretrained encoder's tensors and nothing of the pretraining-only parts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from lidtool.nnet.model import Classifier, LIDNet, build_model
from lidtool.nnet.pooling import MaskedPooling
from lidtool.nnet.w2v_lid import POOLINGS, W2VBackbone

torch.set_num_threads(1)
FEAT = 8


class TinyEncoder(nn.Module):
    """The wav2vec2 encoder interface at toy size: stack 2 frames, two pre-LN blocks."""

    def __init__(self, dim: int = 16, layers: int = 2):
        super().__init__()
        self.proj = nn.Linear(2 * FEAT, dim)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, 2, 32, dropout=0.0, batch_first=True,
                                       norm_first=True) for _ in range(layers))
        self.out_dim, self.min_frames = dim, 2

    def keep_blocks(self, k: int):
        self.layers = self.layers[:k]
        return self

    def features(self, feats, lengths=None):
        b, t, _ = feats.shape
        steps = t // 2
        z = self.proj(feats[:, :steps * 2].reshape(b, steps, 2 * FEAT))
        pad = torch.zeros(b, steps, dtype=torch.bool)
        if lengths is not None:
            pad = torch.arange(steps)[None, :] >= (lengths // 2)[:, None]
        return z, pad

    def context(self, z, pad, prefix=None):
        x = z.masked_fill(pad[..., None], 0.0)
        if prefix is not None:
            x = torch.cat([prefix, x], dim=1)
            pad = torch.cat([pad.new_zeros(prefix.shape[:2]), pad], dim=1)
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return x

    def forward(self, feats, lengths=None):
        z, pad = self.features(feats, lengths)
        return self.context(z, pad), pad


def toy_batch(n: int = 32, frames: int = 20, seed: int = 0):
    """Two classes that differ in the mean of the first feature dimension."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, frames, FEAT, generator=g)
    x[:, :, 0] += 1.5 * (2 * y[:, None].float() - 1)
    return x, y


def test_keep_blocks_truncates():
    backbone = W2VBackbone(TinyEncoder(layers=3), keep_blocks=1)
    assert len(backbone.encoder.layers) == 1
    assert W2VBackbone(TinyEncoder(layers=3)).encoder.layers.__len__() == 3
    with pytest.raises(ValueError, match="at least one Transformer block"):
        W2VBackbone(TinyEncoder(), pooling="cls", keep_blocks=0)


def test_masked_pooling_ignores_padded_steps():
    x = torch.randn(2, 5, 3)
    pad = torch.tensor([[False, False, False, True, True], [False] * 5])
    poisoned = x.clone()
    poisoned[0, 3:] = 1e6                      # padding never reaches a statistic
    for kind, width in (("avg", 1), ("max", 1), ("avg+max", 2), ("avg+max+min", 3)):
        pool = MaskedPooling(kind)
        out = pool(poisoned, pad)
        assert out.shape == (2, width * 3) and pool.width == width
        alone = pool(x[:1, :3])
        assert torch.allclose(out[:1], alone, atol=1e-6)
    assert torch.allclose(MaskedPooling("avg+max+min")(x)[:, 6:], x.amin(dim=1))
    with pytest.raises(ValueError, match="unknown pooling"):
        MaskedPooling("median")


@pytest.mark.parametrize("pooling", POOLINGS)
def test_backbone_respects_padding(pooling):
    torch.manual_seed(0)
    backbone = W2VBackbone(TinyEncoder(), pooling=pooling).eval()
    x = torch.randn(2, 12, FEAT)
    padded = x.clone()
    padded[0, 8:] = 50.0
    with torch.no_grad():
        out = backbone(padded, torch.tensor([8, 12]))
        alone = backbone(x[:1, :8])
        full = backbone(x[1:])
    assert out.shape == (2, backbone.out_dim)
    assert torch.allclose(out[0], alone[0], atol=1e-5)
    assert torch.allclose(out[1], full[0], atol=1e-5)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_every_pooling_trains(pooling):
    torch.manual_seed(1)
    backbone = W2VBackbone(TinyEncoder(), pooling=pooling)
    model = LIDNet(backbone, Classifier(backbone.out_dim, [], 2), embedding_layer="pool")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = toy_batch()
    losses = []
    for _ in range(30):
        loss = nn.functional.cross_entropy(model(x, y), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    if pooling == "cls":
        assert backbone.cls.grad is not None and backbone.cls.grad.abs().sum() > 0


W2V_SMALL = {"enc_dim": 32, "dim": 32, "layers": 3, "heads": 2, "ffn": 64, "final_dim": 16,
             "pos_conv_kernel": 4, "pos_conv_groups": 4, "dropout": 0.0}


def w2v_model_cfg(**kw) -> dict:
    return {"name": "w2v_lid", "encoder": dict(W2V_SMALL), "hidden": [],
            "embedding_layer": "pool", **kw}


def test_build_model_w2v_lid_options():
    model = build_model(w2v_model_cfg(keep_blocks=2, pooling="avg+max"), {"name": "softmax"},
                        80, 5)
    assert len(model.backbone.encoder.layers) == 2
    assert model(torch.randn(2, 40, 80)).shape == (2, 5)
    assert model.embed(torch.randn(1, 40, 80)).shape == (1, 64)
    from lidtool.errors import ConfigError
    with pytest.raises(ConfigError, match="pooling"):
        build_model(w2v_model_cfg(pooling="median"), {}, 80, 5)
    with pytest.raises(ConfigError, match="keep_blocks"):
        build_model(w2v_model_cfg(keep_blocks=7), {}, 80, 5)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_wav2vec2_backbone_ignores_padding(pooling):
    torch.manual_seed(2)
    model = build_model(w2v_model_cfg(pooling=pooling), {"name": "softmax"}, 80, 4).eval()
    x = torch.randn(2, 48, 80)
    padded = x.clone()
    padded[0, 32:] = 30.0
    with torch.no_grad():
        out = model.backbone(padded, torch.tensor([32, 48]))
        alone = model.backbone(x[:1, :32])
        full = model.backbone(x[1:])
    assert torch.allclose(out[0], alone[0], atol=1e-4)
    assert torch.allclose(out[1], full[0], atol=1e-4)
