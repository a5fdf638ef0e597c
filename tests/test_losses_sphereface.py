"""lidtool.losses.sphereface: A-Softmax logits and lambda annealing on hand-made 2-D inputs."""
import math

import pytest
import torch
import torch.nn.functional as F

from lidtool.losses.base import build_head, head_names

W_DEG = [0.0, 60.0, 150.0, 250.0]
W_NORM = [2.0, 0.5, 3.0, 1.5]


def unit(deg):
    r = math.radians(deg)
    return [math.cos(r), math.sin(r)]


def make_head(name, **opts):
    head = build_head(name, 2, len(W_DEG), **opts)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[n * c for c in unit(d)] for d, n in zip(W_DEG, W_NORM)]))
    return head


def embs(degs, norms):
    return torch.tensor([[n * c for c in unit(d)] for d, n in zip(degs, norms)])


def test_registered():
    assert {"sphereface", "adacos"} <= set(head_names())


# -- SphereFace -----------------------------------------------------------------------------
@pytest.mark.parametrize("theta, expect", [
    (30.0, math.cos(math.radians(120))),              # k = 0: cos(4 theta)
    (60.0, -math.cos(math.radians(240)) - 2),         # k = 1: -cos(4 theta) - 2
    (100.0, math.cos(math.radians(400)) - 4),         # k = 2
    (150.0, -math.cos(math.radians(600)) - 6),        # k = 3
    (0.0, 1.0), (180.0, -7.0)])
def test_psi_branches(theta, expect):
    head = make_head("sphereface")
    got = head.psi(torch.tensor([math.cos(math.radians(theta))], dtype=torch.float64))
    assert got.item() == pytest.approx(expect, abs=1e-9)


def test_psi_is_monotonic_and_continuous_for_m_2_and_3():
    for m in (2, 3):
        head = make_head("sphereface", margin=m)
        theta = torch.linspace(0, math.pi, 2001, dtype=torch.float64)
        psi = head.psi(torch.cos(theta))
        assert bool((psi[1:] <= psi[:-1] + 1e-12).all())
        assert float((psi[1:] - psi[:-1]).abs().max()) < 0.02
        assert psi[0].item() == pytest.approx(1.0) and psi[-1].item() == pytest.approx(1 - 2 * m)


def test_sphereface_logits_and_lambda_annealing():
    head = make_head("sphereface")                  # m 4, base 1000, gamma 0.12, power 1, min 5
    x = embs([20.0, 95.0], [3.0, 0.5])
    labels = torch.tensor([0, 1])
    # target angles 20 (k = 0) and 35 (k = 0) degrees
    psi = [math.cos(math.radians(80)), math.cos(math.radians(140))]
    cos_t = [math.cos(math.radians(20)), math.cos(math.radians(35))]
    for step, lam in [(0, 1000.0), (100, 1000.0 / 13.0), (10_000, 5.0)]:
        assert head.update_step(step) == {"lambda": pytest.approx(lam)}
        logits = head(x, labels)
        for i, norm in enumerate([3.0, 0.5]):
            target = norm * (lam * cos_t[i] + psi[i]) / (1 + lam)
            assert logits[i, labels[i]].item() == pytest.approx(target, abs=1e-5)
            for j, wdeg in enumerate(W_DEG):
                if j != labels[i]:
                    other = norm * math.cos(math.radians([20.0, 95.0][i] - wdeg))
                    assert logits[i, j].item() == pytest.approx(other, abs=1e-5)
    # without labels: ||x|| cos theta for every class, whatever lambda
    plain = head(x)
    assert plain[1, 2].item() == pytest.approx(0.5 * math.cos(math.radians(55)), abs=1e-5)
    assert head.lambda_at(1657) > 5.0 and head.lambda_at(1659) == 5.0


def test_sphereface_big_angle_branch():
    head = make_head("sphereface", lambda_min=0.0, lambda_gamma=1.0, lambda_power=50.0)
    head.update_step(10)                                   # lambda ~ 0: pure psi
    logits = head(embs([130.0], [2.0]), torch.tensor([0]))
    expect = 2.0 * (math.cos(math.radians(520)) - 4)       # theta 130: k = 2
    assert logits[0, 0].item() == pytest.approx(expect, abs=1e-4)


def test_sphereface_gradients_are_finite_even_when_aligned():
    head = make_head("sphereface")
    head.update_step(3000)
    x = embs([0.0, 150.0, 40.0], [2.0, 1.0, 1.0]).requires_grad_(True)  # row 0 on class 0
    F.cross_entropy(head(x, torch.tensor([0, 2, 3])), torch.tensor([0, 2, 3])).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(head.weight.grad).all()
    assert head.weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0


def test_sphereface_state_round_trip_and_bad_margin():
    head = make_head("sphereface")
    head.update_step(321)
    other = make_head("sphereface")
    other.load_state_dict(head.state_dict())
    assert int(other.anneal_step) == 321 and other.lambda_ == head.lambda_
    x, y = embs([10.0, 200.0], [1.0, 2.0]), torch.tensor([0, 3])
    assert torch.equal(other(x, y), head(x, y))
    with pytest.raises(ValueError, match="integer >= 1"):
        build_head("sphereface", 2, 3, margin=1.5)
