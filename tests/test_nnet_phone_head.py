"""Frame taps of the TDNN encoders (alignment of a frame layer with the input frames), the
phoneme classifier, and head-option errors of build_model."""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)

from lidtool.errors import ConfigError
from lidtool.nnet.model import build_model
from lidtool.nnet.phone_head import PhoneClassifier


@pytest.mark.parametrize("name,default", [("etdnn", 9), ("tdnn", 4)])
def test_frame_tap_is_centred_on_the_offset_frame(name, default):
    torch.manual_seed(0)        # fixed weights: a dead ReLU path cannot hide an input frame
    model = build_model({"name": name, "channels": 32, "stats_channels": 12, "hidden": [6]},
                        {}, 5, 3).eval()
    bb = model.backbone
    assert bb.frame_tap()[0] == default and bb.frame_tap()[1] == 32
    n_layers = len(bb.encoder.layers)
    for layer in range(1, n_layers + 1):
        x = torch.randn(1, 40, 5, requires_grad=True)
        pooled, frames, offset = bb.forward_frames(x, layer)
        assert torch.allclose(pooled, bb(x), atol=1e-6)          # same pooled output
        t = 3
        frames[0, :, t].sum().backward()
        used = (x.grad[0].abs().sum(dim=1) > 0).nonzero().flatten()
        # frame t of the layer sees input frames t .. t + 2 * offset, centred on t + offset
        assert used.min() == t and used.max() == t + 2 * offset, layer
        assert frames.shape[2] == 40 - 2 * offset
    assert bb.frame_tap(n_layers)[2] == (model.min_frames - 1) // 2
    with pytest.raises(ValueError, match="1..%d" % n_layers):
        bb.frame_tap(0)


def test_resnet_has_no_frame_tap():
    model = build_model({"name": "resnet32", "channels": [4, 4, 4], "blocks": [1, 1, 1]},
                        {}, 10, 2)
    with pytest.raises(ValueError, match="no frame layers"):
        model.backbone.frame_tap()


def test_phone_classifier_shapes_and_errors():
    head = PhoneClassifier(8, 5, hidden=[6])
    out = head(torch.randn(2, 8, 11))
    assert out.shape == (2, 11, 5)
    assert PhoneClassifier(8, 5, hidden=[])(torch.randn(1, 8, 3)).shape == (1, 3, 5)
    with pytest.raises(ValueError, match=r"\[B, 8, T\]"):
        head(torch.randn(2, 7, 11))
    with pytest.raises(ValueError, match="at least 2"):
        PhoneClassifier(8, 1)
    with pytest.raises(ValueError, match="positive ints"):
        PhoneClassifier(8, 4, hidden=[0])


def test_bad_head_options_and_schedule_key():
    model = {"name": "tdnn", "channels": 8, "stats_channels": 8, "hidden": [6]}
    with pytest.raises(ConfigError) as err:
        build_model(model, {"name": "am_softmax", "scale": -1}, 10, 3, source="conf/x.yaml")
    assert "conf/x.yaml" in str(err.value) and "head: bad options" in str(err.value)
    assert "scale" in str(err.value)
    with pytest.raises(ConfigError, match="head: bad options"):
        build_model(model, {"name": "aam_softmax", "margin": "big"}, 10, 3)
    # `schedule` belongs to the trainer, not to the head constructor
    net = build_model(model, {"name": "am_softmax", "margin": 0.2,
                              "schedule": {"type": "linear", "end": 10}}, 10, 3)
    assert net.classifier.head.margin == 0.2
    assert "schedule" not in net.classifier.args["head_options"]
