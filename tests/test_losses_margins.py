"""lidtool.losses.margins: AM / AAM / APM heads on hand-made 2-D inputs."""
import math

import pytest
import torch
import torch.nn.functional as F

from lidtool.losses.base import build_head, head_names
from lidtool.losses.margins import phone_confidence
from lidtool.nnet.model import Classifier

S = 30.0
# class weight directions (degrees) and deliberately non-unit norms
W_DEG = [0.0, 60.0, 150.0]
W_NORM = [2.0, 0.5, 3.0]


def unit(deg):
    r = math.radians(deg)
    return [math.cos(r), math.sin(r)]


def make_head(name, **opts):
    head = build_head(name, 2, 3, scale=S, **opts)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[n * c for c in unit(d)] for d, n in zip(W_DEG, W_NORM)]))
    return head


def embs(*degs, norm=3.0):
    return torch.tensor([[norm * c for c in unit(d)] for d in degs])


def cos_deg(a, b):
    return math.cos(math.radians(a - b))


def check_non_targets(logits, emb_degs, labels):
    for i, (deg, lab) in enumerate(zip(emb_degs, labels)):
        for j, wdeg in enumerate(W_DEG):
            if j != lab:
                assert logits[i, j].item() == pytest.approx(S * cos_deg(deg, wdeg), abs=1e-4)


def test_registered_names():
    assert {"am_softmax", "aam_softmax", "apm_am_softmax", "apm_aam_softmax"} <= set(head_names())


def test_am_target_and_non_target_logits():
    head = make_head("am_softmax", margin=0.2)
    degs, labels = [20.0, 100.0], [0, 1]
    logits = head(embs(*degs), torch.tensor(labels))
    assert logits[0, 0].item() == pytest.approx(S * (cos_deg(20, 0) - 0.2), abs=1e-4)
    assert logits[1, 1].item() == pytest.approx(S * (cos_deg(100, 60) - 0.2), abs=1e-4)
    check_non_targets(logits, degs, labels)


def test_aam_target_logit():
    head = make_head("aam_softmax", margin=0.2)
    logits = head(embs(20.0, 100.0), torch.tensor([0, 1]))
    assert logits[0, 0].item() == pytest.approx(S * math.cos(math.radians(20) + 0.2), abs=1e-4)
    assert logits[1, 1].item() == pytest.approx(S * math.cos(math.radians(40) + 0.2), abs=1e-4)
    check_non_targets(logits, [20.0, 100.0], [0, 1])


def test_aam_guard_when_theta_plus_m_exceeds_pi():
    m = 0.5
    head = make_head("aam_softmax", margin=m)
    # theta = 170 deg = 2.967 rad, theta + m = 3.467 > pi: target = cos(theta) - m sin(m)
    logits = head(embs(170.0), torch.tensor([0]))
    expected = S * (math.cos(math.radians(170)) - m * math.sin(m))
    assert logits[0, 0].item() == pytest.approx(expected, abs=1e-4)
    assert logits[0, 0].item() != pytest.approx(S * math.cos(math.radians(170) + m), abs=1e-2)
    # just inside the threshold the true angular margin is used
    logits = head(embs(150.0), torch.tensor([0]))
    assert logits[0, 0].item() == pytest.approx(S * math.cos(math.radians(150) + m), abs=1e-4)


def test_aam_easy_margin_variant():
    head = make_head("aam_softmax", margin=0.3, easy_margin=True)
    logits = head(embs(20.0, 120.0), torch.tensor([0, 0]))
    assert logits[0, 0].item() == pytest.approx(S * math.cos(math.radians(20) + 0.3), abs=1e-4)
    assert logits[1, 0].item() == pytest.approx(S * cos_deg(120, 0), abs=1e-4)  # cos < 0


@pytest.mark.parametrize("name,opts", [("am_softmax", {}), ("aam_softmax", {}),
                                       ("apm_am_softmax", {}), ("apm_aam_softmax", {})])
def test_inference_is_margin_free(name, opts):
    head = make_head(name, margin=0.2, **opts)
    degs = [20.0, 100.0, -45.0]
    logits = head(embs(*degs))   # no labels, no phone_conf needed
    for i, deg in enumerate(degs):
        for j, wdeg in enumerate(W_DEG):
            assert logits[i, j].item() == pytest.approx(S * cos_deg(deg, wdeg), abs=1e-4)


def hand_phone_logits():
    # posteriors given directly as log-probabilities: softmax(log p) = p
    probs = torch.tensor([
        [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4]],    # max: 0.7, 0.5, 0.4
        [[0.9, 0.05, 0.05], [0.2, 0.6, 0.2], [1 / 3, 1 / 3, 1 / 3]],  # max: 0.9, 0.6, 1/3
    ])
    return probs.log()


def test_phone_confidence_mean_max_posterior_with_mask():
    logits = hand_phone_logits()
    p = phone_confidence(logits)
    assert p.tolist() == pytest.approx([(0.7 + 0.5 + 0.4) / 3, (0.9 + 0.6 + 1 / 3) / 3], abs=1e-6)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert phone_confidence(logits, mask).tolist() == pytest.approx([0.6, 0.9], abs=1e-6)
    with pytest.raises(ValueError, match="no valid frame"):
        phone_confidence(logits, torch.tensor([[True, True, True], [False, False, False]]))
    with pytest.raises(ValueError, match=r"\[B, T, P\]"):
        phone_confidence(logits[0])


@pytest.mark.parametrize("form", ["am", "aam"])
def test_apm_per_sample_margin(form):
    m, beta = 0.02, 0.5
    head = make_head(f"apm_{form}_softmax", margin=m, beta=beta)
    conf = phone_confidence(hand_phone_logits())
    expect_p = [m + beta * (0.7 + 0.5 + 0.4) / 3, m + beta * (0.9 + 0.6 + 1 / 3) / 3]
    assert head.sample_margins(conf, 2).tolist() == pytest.approx(expect_p, abs=1e-6)
    degs, labels = [20.0, 100.0], [0, 1]
    logits = head(embs(*degs), torch.tensor(labels), phone_conf=conf)
    thetas = [math.radians(20), math.radians(40)]
    for i, (theta, p_i) in enumerate(zip(thetas, expect_p)):
        want = math.cos(theta) - p_i if form == "am" else math.cos(theta + p_i)
        assert logits[i, labels[i]].item() == pytest.approx(S * want, abs=1e-4)
    check_non_targets(logits, degs, labels)


def test_apm_missing_or_bad_phone_conf():
    head = make_head("apm_am_softmax")
    with pytest.raises(ValueError, match="phone_conf"):
        head(embs(20.0), torch.tensor([0]))
    with pytest.raises(ValueError, match="phone_conf must be"):
        head(embs(20.0, 30.0), torch.tensor([0, 0]), phone_conf=torch.tensor([0.5]))


def test_apm_margin_caps():
    head = make_head("apm_am_softmax", margin=0.2, beta=10.0, max_margin=1.0)
    assert head.sample_margins(torch.tensor([0.05, 0.5]), 2).tolist() == pytest.approx([0.7, 1.0])
    aam = make_head("apm_aam_softmax", margin=0.2, beta=10.0)
    logits = aam(embs(10.0), torch.tensor([0]), phone_conf=torch.tensor([0.9]))  # P = 9.2
    assert logits[0, 0].item() == pytest.approx(S * math.cos(math.radians(10) + math.pi / 2),
                                                abs=1e-4)


def test_active_classes_with_margin_heads():
    head = build_head("aam_softmax", 2, 4, scale=S, margin=0.2)
    emb = embs(20.0, 100.0, 200.0)
    full = head(emb, torch.tensor([0, 2, 0]))
    head.set_active_classes([0, 2])
    masked = head(emb, torch.tensor([0, 2, 0]))
    assert torch.isinf(masked[:, [1, 3]]).all() and (masked[:, [1, 3]] < 0).all()
    assert torch.allclose(masked[:, [0, 2]], full[:, [0, 2]])
    loss = F.cross_entropy(masked, torch.tensor([0, 2, 0]))
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="inactive"):
        head(emb, torch.tensor([1, 0, 0]))
    head.set_active_classes(None)
    assert torch.isfinite(head(emb)).all()


@pytest.mark.parametrize("detach", [True, False])
def test_gradients_and_phone_conf_detach(detach):
    torch.manual_seed(0)
    head = build_head("apm_aam_softmax", 4, 3, scale=S, margin=0.2, beta=0.5,
                      detach_conf=detach)
    emb = torch.randn(5, 4, requires_grad=True)
    phone_logits = torch.randn(5, 7, 6, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 0, 1])
    logits = head(emb, labels, phone_conf=phone_confidence(phone_logits))
    F.cross_entropy(logits, labels).backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    assert emb.grad is not None and emb.grad.abs().sum() > 0
    if detach:
        assert phone_logits.grad is None
    else:
        assert phone_logits.grad is not None and phone_logits.grad.abs().sum() > 0


def test_update_margin_and_bad_options():
    head = make_head("am_softmax", margin=0.2)
    head.update(margin=0.05)
    assert head.margin == 0.05
    logits = head(embs(20.0), torch.tensor([0]))
    assert logits[0, 0].item() == pytest.approx(S * (cos_deg(20, 0) - 0.05), abs=1e-4)
    with pytest.raises(ValueError, match="schedulable"):
        head.update(scale=10.0)
    with pytest.raises(ValueError, match="margin"):
        head.update(margin=-0.1)
    with pytest.raises(ValueError, match="scale"):
        build_head("am_softmax", 2, 3, scale=0)
    with pytest.raises(TypeError):
        build_head("am_softmax", 2, 3, beta=1.0)   # AM has no beta: build_model -> ConfigError


def test_classifier_passes_phone_conf_through():
    torch.manual_seed(0)
    clf = Classifier(8, [6], 3, head="apm_am_softmax",
                     head_options={"margin": 0.2, "beta": 10.0})
    pooled, labels = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    conf = torch.tensor([0.0, 0.01, 0.02, 0.0])
    with_margin = clf(pooled, labels, phone_conf=conf)
    plain = clf(pooled)
    rows = torch.arange(4)
    diff = plain[rows, labels] - with_margin[rows, labels]
    assert diff.tolist() == pytest.approx((S * (0.2 + 10.0 * conf)).tolist(), abs=1e-4)
