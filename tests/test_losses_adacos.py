"""lidtool.losses.adacos: the adaptive scale against the paper's formula (numpy)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lidtool.losses.adacos import fixed_scale
from lidtool.losses.base import build_head
from test_losses_sphereface import W_DEG, embs, make_head


def adacos_reference(cos, labels, s_old, kept=None):
    """Algorithm 1 of the AdaCos paper in numpy (float64)."""
    cos = np.asarray(cos, dtype=np.float64)
    n, c = cos.shape
    mask = np.ones((n, c), bool) if kept is None else np.tile(np.isin(np.arange(c), kept), (n, 1))
    mask[np.arange(n), labels] = False
    b_avg = np.exp(s_old * cos)[mask].sum() / n
    theta = np.arccos(np.clip(cos[np.arange(n), labels], -1, 1))
    med = np.sort(theta)[(n - 1) // 2]                  # lower median, as torch.median
    return math.log(b_avg) / math.cos(min(math.pi / 4, med))


def test_adacos_initial_scale_and_inference_logits():
    head = make_head("adacos")
    assert float(head.scale) == pytest.approx(math.sqrt(2) * math.log(3))
    assert fixed_scale(5994) == pytest.approx(math.sqrt(2) * math.log(5993))
    x = embs([20.0, 100.0], [3.0, 0.2])
    logits = head(x)
    assert logits[0, 1].item() == pytest.approx(float(head.scale) * math.cos(math.radians(40)),
                                                abs=1e-5)
    head.eval()
    before = float(head.scale)
    head(x, torch.tensor([0, 1]))                       # eval: labels do not update s
    assert float(head.scale) == before


@pytest.mark.parametrize("degs, labels", [([20.0, 100.0, 170.0], [0, 1, 2]),
                                          ([20.0, 100.0, 170.0, 10.0], [0, 1, 2, 3])])
def test_adacos_scale_update_equals_the_formula(degs, labels):
    head = make_head("adacos").train()
    x = embs(degs, [1.0] * len(degs))
    cos = np.cos(np.radians(np.subtract.outer(degs, W_DEG)))
    s0 = float(head.scale)
    expect = adacos_reference(cos, labels, s0)
    logits = head(x, torch.tensor(labels))
    assert float(head.scale) == pytest.approx(expect, rel=1e-5)
    assert torch.allclose(logits, expect * torch.tensor(cos, dtype=torch.float32), atol=1e-4)
    # the next batch starts from the updated s
    expect2 = adacos_reference(cos, labels, float(head.scale))
    head(x, torch.tensor(labels))
    assert float(head.scale) == pytest.approx(expect2, rel=1e-5)


def test_adacos_with_rows_sums_over_the_kept_classes_only():
    head = make_head("adacos").train()
    degs, rows = [20.0, 100.0, 170.0], torch.tensor([3, 0, 2])
    local = [1, 1, 2]                                   # classes 0, 0, 2
    cos = np.cos(np.radians(np.subtract.outer(degs, W_DEG)))
    expect = adacos_reference(cos, [0, 0, 2], float(head.scale), kept=[0, 2, 3])
    logits = head(embs(degs, [1.0] * 3), torch.tensor(local), rows=rows)
    assert float(head.scale) == pytest.approx(expect, rel=1e-5)
    assert logits.shape == (3, 3)


def test_adacos_gradients_state_and_fixed_mode():
    head = make_head("adacos").train()
    x = embs([20.0, 100.0, 170.0], [1.0, 2.0, 3.0]).requires_grad_(True)
    y = torch.tensor([0, 1, 2])
    F.cross_entropy(head(x, y), y).backward()
    assert not head.scale.requires_grad
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert head.weight.grad.abs().sum() > 0
    other = make_head("adacos")
    other.load_state_dict(head.state_dict())
    assert float(other.scale) == float(head.scale) != pytest.approx(fixed_scale(4))
    fixed = make_head("adacos", dynamic=False).train()
    fixed(x.detach(), y)
    assert float(fixed.scale) == pytest.approx(fixed_scale(4))
    with pytest.raises(ValueError, match="at least 3 classes"):
        build_head("adacos", 2, 2)
