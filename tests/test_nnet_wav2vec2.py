"""Log-mel wav2vec 2.0: encoder shapes and padding, keep_blocks, the Gumbel quantiser, the
pretraining module and its registration by model name."""
import numpy as np
import pytest
import torch

from lidtool.errors import ConfigError
from lidtool.nnet.model import build_model
from lidtool.nnet.w2v_pretrain import Wav2Vec2Pretrain, build_pretrain
from lidtool.nnet.w2v_quantizer import GumbelQuantizer
from lidtool.nnet.wav2vec2 import Wav2Vec2Config, build_encoder

TINY = dict(enc_dim=32, dim=32, layers=3, heads=2, ffn=64, final_dim=16,
            pos_conv_kernel=8, pos_conv_groups=4, quantizer_entries=8, num_negatives=10)


def test_encoder_output_shape_pad_mask_and_normalisation():
    torch.manual_seed(0)
    enc = build_encoder(80, **TINY).eval()
    feats = torch.randn(2, 203, 80)
    x, pad = enc(feats, torch.tensor([203, 120]))
    assert x.shape == (2, 50, 32) and pad.dtype == torch.bool
    assert pad[0].sum() == 0 and pad[1].sum() == 50 - 30
    # padding frames do not change the unpadded outputs
    other = feats.clone()
    other[1, 120:] = 100.0
    x2, _ = enc(other, torch.tensor([203, 120]))
    assert torch.allclose(x[1, :30], x2[1, :30], atol=1e-5)
    enc.set_feature_stats(torch.full((80,), 1.0), torch.full((80,), 2.0))
    z, _ = enc.features(torch.ones(1, 8, 80))
    z0, _ = enc.features(torch.zeros(1, 8, 80) + 1.0)
    assert torch.allclose(z, z0)
    assert "feat_mean" in enc.state_dict() and float(enc.state_dict()["feat_std"][0]) == 2.0


def test_keep_blocks_truncates():
    enc = build_encoder(80, **TINY)
    first = enc.layers[0]
    assert enc.keep_blocks(2) is enc
    assert len(enc.layers) == 2 and enc.layers[0] is first and enc.config.layers == 2
    assert not any(k.startswith("layers.2.") for k in enc.state_dict())
    x, _ = enc(torch.randn(1, 40, 80))
    assert x.shape == (1, 10, 32)
    with pytest.raises(ValueError, match="keep_blocks"):
        enc.keep_blocks(3)


def test_context_prefix_token_sees_frames_and_ignores_padding():
    torch.manual_seed(0)
    enc = build_encoder(80, **TINY).eval()
    feats = torch.randn(2, 80, 80)
    z, pad = enc.features(feats, torch.tensor([80, 40]))
    cls = torch.randn(1, 1, 32).expand(2, 1, 32)
    x = enc.context(z, pad, prefix=cls)
    assert x.shape == (2, 21, 32)
    # the second row's class token does not change when its padding changes
    feats2 = feats.clone()
    feats2[1, 40:] = 50.0
    z2, _ = enc.features(feats2, torch.tensor([80, 40]))
    x2 = enc.context(z2, pad, prefix=cls)
    assert torch.allclose(x[1, 0], x2[1, 0], atol=1e-5)
    assert not torch.allclose(x[0, 0], x[1, 0])


def test_quantizer_hard_forward_gradient_reaches_logits_and_temperature_anneals():
    torch.manual_seed(0)
    q = GumbelQuantizer(16, 2, 8, 12, 12).train()
    z = torch.randn(2, 5, 16)
    logits = q.weight_proj(z).reshape(10, 2, 8)
    onehot = q.choose(logits)
    assert set(onehot.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(onehot.detach().sum(-1), torch.ones(10, 2))
    out, stats = q(z)
    out.sum().backward()
    assert q.weight_proj.weight.grad is not None and q.weight_proj.weight.grad.abs().sum() > 0
    assert stats["temperature"] == 2.0
    q.set_num_updates(100000)
    assert abs(q.temperature - max(2 * 0.999995 ** 100000, 0.5)) < 1e-9
    q.set_num_updates(10 ** 7)
    assert q.temperature == 0.5
    assert int(q.state_dict()["num_updates"]) == 10 ** 7
    q.eval()
    a, _ = q(z)
    b, _ = q(z)
    assert torch.equal(a, b)     # eval: argmax, no Gumbel noise


def test_pretrain_forward_returns_the_logged_quantities_and_backpropagates():
    torch.manual_seed(0)
    model = build_pretrain(80, **TINY)
    out = model(torch.randn(3, 160, 80), torch.tensor([160, 160, 100]),
                np.random.default_rng(0))
    for key in ("loss", "contrastive", "diversity", "feature_penalty", "prob_perplexity",
                "code_perplexity", "acc", "temperature"):
        assert key in out
    out["loss"].backward()
    assert model.encoder.mask_emb.grad.abs().sum() > 0
    assert model.quantizer.codebook.grad.abs().sum() > 0


def test_cross_negatives_train_and_feature_grad_mult_scales_only_the_encoder_gradient():
    feats, lengths = torch.randn(3, 160, 80), torch.tensor([160, 160, 100])
    runs = {}
    for cross, mult in ((7, 1.0), (7, 0.1), (0, 1.0)):
        torch.manual_seed(0)
        model = build_pretrain(80, **TINY, cross_negatives=cross, feature_grad_mult=mult,
                               dropout=0.0)
        torch.manual_seed(1)
        out = model(feats, lengths, np.random.default_rng(0))
        out["loss"].backward()
        runs[cross, mult] = (float(out["loss"].detach()),
                             {name: p.grad for name, p in model.named_parameters()})
    (loss_1, g_1), (loss_01, g_01) = runs[7, 1.0], runs[7, 0.1]
    assert np.isfinite(loss_1) and loss_1 == pytest.approx(loss_01)   # same forward pass
    # the same weights, masks and same-utterance distractors: the 7 cross-utterance
    # distractors per step are what changes the loss (chance ln 18 against ln 11)
    assert abs(loss_1 - runs[0, 1.0][0]) > 0.05
    w = "encoder.feature_proj.weight"
    assert torch.allclose(g_01[w], 0.1 * g_1[w], rtol=1e-4, atol=1e-8)
    q = "quantizer.codebook"                          # after Z: not scaled
    assert torch.allclose(g_01[q], g_1[q], rtol=1e-4, atol=1e-8)
    with pytest.raises(ValueError, match="feature_grad_mult"):
        Wav2Vec2Config(feature_grad_mult=2.0)
    with pytest.raises(ValueError, match="cross_negatives"):
        Wav2Vec2Config(cross_negatives=-1)


def test_built_by_model_name_and_bad_options_are_config_errors():
    model = build_model({"name": "wav2vec2", "hidden": [512], **TINY}, {}, 80, 0)
    assert isinstance(model, Wav2Vec2Pretrain)
    with pytest.raises(ConfigError, match="heads"):
        build_model({"name": "wav2vec2", **TINY, "heads": 5}, {}, 80, 0)
    with pytest.raises(ConfigError, match="unknown wav2vec2 option"):
        build_model({"name": "wav2vec2", "layer": 3}, {}, 80, 0)
    assert Wav2Vec2Config.from_dict(Wav2Vec2Config().to_dict()) == Wav2Vec2Config()
