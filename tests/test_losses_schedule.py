"""lidtool.losses.schedule: margin warm-up values, head updates, state round-trip, errors."""
import math

import pytest
import torch

from lidtool.errors import ConfigError
from lidtool.losses.base import build_head
from lidtool.losses.schedule import MarginScheduler

CFG = {"type": "linear", "initial": 0.0, "final": 0.2, "start": 1000, "end": 5000}


def head(name="aam_softmax", margin=0.2):
    return build_head(name, 2, 3, margin=margin)


def test_linear_values_and_head_update():
    h = head()
    sched = MarginScheduler.from_config(dict(CFG), h)
    for step, want in [(0, 0.0), (1000, 0.0), (2000, 0.05), (3000, 0.1), (5000, 0.2),
                       (9000, 0.2)]:
        assert sched.step(step) == pytest.approx(want)
        assert h.margin == pytest.approx(want)


def test_exp_values():
    sched = MarginScheduler.from_config({**CFG, "type": "exponential", "rate": 2.0}, head())
    mid = 0.2 * (1 - math.exp(-1.0)) / (1 - math.exp(-2.0))
    assert sched.value(3000) == pytest.approx(mid)
    assert sched.value(1000) == 0.0 and sched.value(5000) == pytest.approx(0.2)
    values = [sched.value(k) for k in range(1000, 5001, 250)]
    assert all(b > a for a, b in zip(values, values[1:]))
    assert sched.value(2000) > 0.05     # faster than linear early on


def test_constant_and_default_final_from_head():
    h = head(margin=0.02)
    sched = MarginScheduler.from_config({"type": "constant"}, h)
    assert sched.step(0) == pytest.approx(0.02)
    sched = MarginScheduler.from_config({"start": 0, "end": 10, "initial": 0.1}, head(margin=0.3))
    assert sched.value(5) == pytest.approx(0.2)


def test_state_round_trip_restores_head_margin():
    h = head()
    sched = MarginScheduler.from_config(dict(CFG), h)
    sched.step(3000)
    state = sched.state_dict()
    assert state["last_step"] == 3000 and state["margin"] == pytest.approx(0.1)
    h2 = head()                      # fresh head starts at its configured 0.2
    sched2 = MarginScheduler.from_config(dict(CFG), h2)
    sched2.load_state_dict(state)
    assert h2.margin == pytest.approx(0.1) and sched2.last_step == 3000
    assert sched2.state_dict() == state
    with pytest.raises(ValueError, match="last_step"):
        sched2.load_state_dict({"margin": 0.1})


def test_scheduled_margin_changes_logits():
    h = build_head("am_softmax", 2, 3, scale=30.0, margin=0.2)
    sched = MarginScheduler.from_config(dict(CFG), h)
    emb, labels = torch.tensor([[1.0, 0.5]]), torch.tensor([1])
    plain = h(emb)[0, 1].item()
    sched.step(0)
    assert h(emb, labels)[0, 1].item() == pytest.approx(plain, abs=1e-5)
    sched.step(3000)
    assert h(emb, labels)[0, 1].item() == pytest.approx(plain - 30.0 * 0.1, abs=1e-4)


@pytest.mark.parametrize("cfg,match", [
    ({**CFG, "typo": 1}, "unknown margin schedule keys"),
    ({**CFG, "type": "cosine"}, "unknown margin schedule type"),
    ({**CFG, "start": 5000, "end": 1000}, "must not come before"),
    ({**CFG, "final": -0.1}, "final"),
    ({**CFG, "start": 1.5}, "start"),
    ([1, 2], "mapping"),
])
def test_bad_configs_name_the_source(cfg, match):
    with pytest.raises(ConfigError, match=match) as err:
        MarginScheduler.from_config(cfg, head(), source="conf/apm.yaml")
    assert "conf/apm.yaml" in str(err.value)


def test_head_without_margin_is_rejected():
    with pytest.raises(ConfigError, match="no schedulable margin"):
        MarginScheduler.from_config(dict(CFG), build_head("softmax", 2, 3), source="x.yaml")
