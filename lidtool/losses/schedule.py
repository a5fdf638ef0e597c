"""Margin warm-up for margin heads (WeSpeaker-style margin scheduler).

Large margins from the first step make cosine heads hard to train, so the margin is raised
from ``initial`` (usually 0) to ``final`` between the global steps ``start`` and ``end`` and
kept at ``final`` afterwards::

    margin(k) = initial                                      k <= start
              = initial + (final - initial) * r((k - start) / (end - start))
              = final                                        k >= end

with ``r(t) = t`` for ``type: linear`` and ``r(t) = (1 - exp(-rate t)) / (1 - exp(-rate))``
for ``type: exp`` (fast rise, then slow approach; ``rate`` defaults to ln(1000), i.e. the
unnormalised curve would be within 0.1 % of the end value at ``end``). ``type: constant``
holds ``final`` from step 0. ``final`` defaults to the head's configured ``margin``.

Built from a config mapping, e.g.
``{"type": "linear", "initial": 0.0, "final": 0.2, "start": 1000, "end": 5000}``.
The trainer calls ``scheduler.step(global_step)`` once per step, before the forward pass,
with the number of optimiser steps done so far; it sets ``head.update(margin=...)`` and
returns the margin (worth logging). ``state_dict``/``load_state_dict`` carry the progress
through checkpoints; the schedule itself always comes from the current config.
"""
from __future__ import annotations

import math

from lidtool.errors import ConfigError

TYPES = ("linear", "exp", "constant")
_ALIASES = {"exponential": "exp"}
KEYS = ("type", "initial", "final", "start", "end", "rate")
DEFAULT_RATE = math.log(1000.0)


class MarginScheduler:
    """Drive ``head.margin`` as a function of the global training step."""

    def __init__(self, head, type: str = "linear", initial: float = 0.0,
                 final: float | None = None, start: int = 0, end: int = 0,
                 rate: float = DEFAULT_RATE):
        if "margin" not in getattr(head, "schedulable", ()):
            raise ValueError(f"head '{getattr(head, 'head_name', head.__class__.__name__)}' has no "
                             "schedulable margin")
        kind = _ALIASES.get(str(type), str(type))
        if kind not in TYPES:
            raise ValueError(f"unknown margin schedule type '{type}' "
                             f"(use one of: {', '.join(TYPES)})")
        self.head = head
        self.type = kind
        self.initial = _number("initial", initial, 0.0)
        self.final = _number("final", head.margin if final is None else final, 0.0)
        self.start = _int("start", start)
        self.end = _int("end", end)
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not come before start ({self.start})")
        self.rate = _number("rate", rate, 0.0, strict=True)
        self.last_step: int | None = None
        self.margin: float | None = None

    @classmethod
    def from_config(cls, cfg: dict, head, source: str = "<config>") -> "MarginScheduler":
        """Build from a config mapping; bad keys or values raise ConfigError naming `source`."""
        if not isinstance(cfg, dict):
            raise ConfigError(source, f"a margin schedule must be a mapping, got {cfg!r}")
        unknown = sorted(set(cfg) - set(KEYS))
        if unknown:
            raise ConfigError(source, f"unknown margin schedule keys {unknown}",
                              fix="known keys: " + ", ".join(KEYS))
        try:
            return cls(head, **cfg)
        except ValueError as err:
            raise ConfigError(source, f"margin schedule: {err}") from None

    def value(self, step: int) -> float:
        """The margin at global step `step` (pure function of the step)."""
        if self.type == "constant" or step >= self.end:
            return self.final
        if step <= self.start:
            return self.initial
        t = (step - self.start) / (self.end - self.start)
        if self.type == "exp":
            t = (1.0 - math.exp(-self.rate * t)) / (1.0 - math.exp(-self.rate))
        return self.initial + (self.final - self.initial) * t

    def step(self, global_step: int) -> float:
        """Set the head's margin for `global_step` and return it."""
        margin = self.value(int(global_step))
        self.head.update(margin=margin)
        self.last_step, self.margin = int(global_step), margin
        return margin

    def state_dict(self) -> dict:
        return {"type": self.type, "initial": self.initial, "final": self.final,
                "start": self.start, "end": self.end, "rate": self.rate,
                "last_step": self.last_step, "margin": self.margin}

    def load_state_dict(self, state: dict) -> None:
        """Restore the progress (last step and margin) and put that margin on the head."""
        missing = [k for k in ("last_step", "margin") if k not in state]
        if missing:
            raise ValueError(f"margin scheduler state lacks {missing}")
        self.last_step = None if state["last_step"] is None else int(state["last_step"])
        self.margin = None if state["margin"] is None else float(state["margin"])
        if self.margin is not None:
            self.head.update(margin=self.margin)

    def __repr__(self) -> str:
        return (f"MarginScheduler(type={self.type}, initial={self.initial}, final={self.final}, "
                f"start={self.start}, end={self.end})")


def _number(name: str, value, minimum: float, strict: bool = False) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out) or (out <= minimum if strict else out < minimum):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum}, "
                         f"got {value!r}")
    return out


def _int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer step, got {value!r}")
    return value
