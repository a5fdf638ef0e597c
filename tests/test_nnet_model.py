"""lidtool.nnet (encoders, pooling, LIDNet) and the classifier-head interface."""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)   # tiny models: threads only contend with each other

from lidtool.errors import ConfigError
from lidtool.losses.base import ClassifierHead, build_head, head_names, register_head
from lidtool.nnet.model import build_model
from lidtool.nnet.pooling import StatsPooling

SMALL = {
    "tdnn": {"channels": 16, "stats_channels": 24},
    "etdnn": {"channels": 16, "stats_channels": 24},
    "resnet32": {"channels": [4, 8, 8], "blocks": [1, 1, 1]},
    "resnet34": {"channels": [4, 4, 8, 8], "blocks": [1, 1, 1, 1]},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_models_shapes_and_embeddings(name):
    model = build_model({"name": name, "hidden": [12, 10], **SMALL[name]}, {}, 23, 5).eval()
    x = torch.randn(3, 64, 23)
    assert model(x).shape == (3, 5)
    assert model.embed(x).shape == (3, 12)                    # default: fc1
    assert model.embed(x, "fc2_out").shape == (3, 10)
    assert model.embed(x, "pool").shape == (3, model.backbone.out_dim)
    # variable length and the minimum length the encoder accepts
    assert model(torch.randn(1, model.min_frames, 23)).shape == (1, 5)


def test_tdnn_layouts():
    tdnn = build_model({"name": "tdnn"}, {}, 30, 2)
    etdnn = build_model({"name": "etdnn"}, {}, 30, 2)
    assert tdnn.min_frames == 15 and etdnn.min_frames == 23   # +-7 and +-11 frames context
    assert len(tdnn.backbone.encoder.layers) == 5 and len(etdnn.backbone.encoder.layers) == 10
    assert etdnn.backbone.out_dim == 3000                       # 1500 mean + 1500 std


def test_resnet_sizes():
    r32 = build_model({"name": "resnet32"}, {}, 40, 2).backbone.encoder
    r34 = build_model({"name": "resnet34"}, {}, 40, 2).backbone.encoder
    assert len(r32.layers) == 15 and len(r34.layers) == 16
    assert r32.out_dim == 64 * 10 and r34.out_dim == 256 * 5


def test_stats_pooling_values():
    x = torch.tensor([[[1.0, 3.0], [2.0, 2.0]]])
    out = StatsPooling()(x)
    assert torch.allclose(out, torch.tensor([[2.0, 2.0, 1.0, (1e-5) ** 0.5]]))


def test_unknown_model_and_bad_options_name_the_config():
    with pytest.raises(ConfigError) as err:
        build_model({"name": "transformer"}, {}, 20, 2, source="conf/x.yaml")
    assert "conf/x.yaml" in str(err.value) and "model.name" in str(err.value)
    assert "resnet32" in str(err.value)
    with pytest.raises(ConfigError, match="bad options"):
        build_model({"name": "tdnn", "widht": 3}, {}, 20, 2, source="conf/x.yaml")
    with pytest.raises(ConfigError, match="head.name"):
        build_model({"name": "tdnn"}, {"name": "nope"}, 20, 2, source="conf/x.yaml")
    with pytest.raises(ConfigError, match="embedding_layer"):
        build_model({"name": "tdnn", "embedding_layer": "fc3"}, {}, 20, 2)


def test_head_active_classes_and_update():
    head = build_head("softmax", 4, 5)
    emb = torch.randn(6, 4)
    full = head(emb)
    head.set_active_classes([0, 2, 3])
    masked = head(emb, torch.tensor([0, 2, 3, 0, 2, 3]))
    assert torch.isinf(masked[:, [1, 4]]).all()
    assert torch.equal(masked[:, [0, 2, 3]], full[:, [0, 2, 3]])
    # cross-entropy over the active rows equals a softmax over only those classes
    loss = torch.nn.functional.cross_entropy(masked, torch.tensor([0, 2, 3, 0, 2, 3]))
    ref = torch.nn.functional.cross_entropy(full[:, [0, 2, 3]], torch.tensor([0, 1, 2] * 2))
    assert torch.allclose(loss, ref)
    with pytest.raises(ValueError, match="inactive"):
        head(emb, torch.tensor([1, 0, 0, 0, 0, 0]))
    assert head.active_classes.tolist() == [0, 2, 3]
    head.set_active_classes(None)
    assert torch.equal(head(emb), full)
    with pytest.raises(ValueError, match="no schedulable 'margin'"):
        head.update(margin=0.2)
    assert {"softmax", "linear"} <= set(head_names())
    assert build_head("linear", 4, 3).fc.bias is None


def test_custom_head_plugs_in():
    @register_head("test_margin")
    class MarginHead(ClassifierHead):
        schedulable = ("margin",)

        def __init__(self, in_dim, num_classes, margin=0.0):
            super().__init__(in_dim, num_classes)
            self.w = torch.nn.Linear(in_dim, num_classes, bias=False)
            self.margin = margin

        def compute_logits(self, emb, labels=None, **aux):
            logits = self.w(emb)
            if labels is not None:
                logits = logits - self.margin * torch.nn.functional.one_hot(
                    labels, self.num_classes)
            return logits

    model = build_model({"name": "tdnn", "channels": 8, "stats_channels": 8, "hidden": [6]},
                        {"name": "test_margin", "margin": 0.5}, 10, 3).eval()
    x, y = torch.randn(2, 30, 10), torch.tensor([0, 2])
    diff = model(x) - model(x, y)
    assert torch.allclose(diff[[0, 1], [0, 2]], torch.tensor([0.5, 0.5]))
    model.classifier.head.update(0.0)
    assert torch.allclose(model(x), model(x, y))
    model.classifier.head.update(margin=0.25)
    assert model.classifier.head.margin == 0.25
    with pytest.raises(TypeError):
        ClassifierHead(3, 2)   # abstract


@pytest.mark.parametrize("enc", ["tdnn", "etdnn"])
def test_leaky_relu_option_in_frame_and_segment_layers(enc):
    torch.manual_seed(4)
    plain = build_model({"name": enc, "hidden": [12], **SMALL[enc]}, {}, 10, 3)
    torch.manual_seed(4)
    leaky = build_model({"name": enc, "hidden": [12], "activation": "leaky_relu",
                         "leaky_slope": 0.2, **SMALL[enc]}, {}, 10, 3)
    acts = lambda m: [type(x).__name__ for x in m.modules()
                      if isinstance(x, (torch.nn.ReLU, torch.nn.LeakyReLU))]
    n_layers = len(plain.backbone.encoder.layers) + 1
    assert acts(plain) == ["ReLU"] * n_layers                 # default unchanged
    assert acts(leaky) == ["LeakyReLU"] * n_layers
    assert all(m.negative_slope == 0.2 for m in leaky.modules()
               if isinstance(m, torch.nn.LeakyReLU))
    assert leaky.classifier.fresh().acts[0][0].negative_slope == 0.2
    # same parameters (the activation has none), different function
    for (ka, a), (kb, b) in zip(plain.state_dict().items(), leaky.state_dict().items()):
        assert ka == kb and torch.equal(a, b)
    x = torch.randn(2, 40, 10)
    assert not torch.allclose(plain.eval()(x), leaky.eval()(x))
    with pytest.raises(ConfigError, match="unknown activation 'gelu'"):
        build_model({"name": enc, "activation": "gelu", **SMALL[enc]}, {}, 10, 3)
