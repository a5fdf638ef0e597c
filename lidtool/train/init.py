"""Start a run from another model's weights (`model.init`) and freeze modules for a while.

    model:
      init:
        path: exp/other/final.pt      # a final.pt (any artifact kind), a ckpt-*.pt or a
                                      # state dict saved with torch.save
        prefix_map: {backbone.: backbone.}   # optional: src prefix -> dst prefix; keys
                                             # matching no src prefix are not loaded
        exclude: [classifier.head.*]         # optional fnmatch patterns (src or dst names)
      freeze: [backbone]              # module names of the model to freeze
      freeze_steps: 0                 # 0: frozen for the whole run; N: unfrozen at step N

The weights are loaded at step 0 only (a resumed run takes them from its checkpoint). A
tensor whose shape differs from the model's is an error naming it and both shapes; model
tensors not loaded ("missing") and loaded tensors the model lacks ("unexpected") are logged
and written with the loaded ones to exp/<sys>/init_report.json.

A frozen module's parameters get no gradient (so the optimiser neither steps nor decays
them) and its BatchNorm layers keep their running statistics; they stay in the optimiser,
so unfreezing only turns their gradients back on. The frozen set is logged when it changes
and kept in checkpoints.
"""
from __future__ import annotations

import contextlib
import fnmatch
import json
import logging

import torch

from lidtool.errors import CheckpointError, ConfigError
from lidtool.fileio import atomic_open

log = logging.getLogger(__name__)
INIT_KEYS = ("path", "prefix_map", "exclude")


def validate_model_init(model_cfg: dict, source: str) -> None:
    init = model_cfg.get("init")
    if init is not None:
        if not isinstance(init, dict) or not isinstance(init.get("path"), str):
            raise ConfigError(source, f"model.init must be a mapping with a 'path', got {init!r}")
        unknown = sorted(set(init) - set(INIT_KEYS))
        if unknown:
            raise ConfigError(source, f"unknown key 'model.init.{unknown[0]}'",
                              fix="known keys: " + ", ".join(INIT_KEYS))
        pmap = init.get("prefix_map") or {}
        if not isinstance(pmap, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in pmap.items()):
            raise ConfigError(source, "model.init.prefix_map must map strings to strings, "
                              f"got {pmap!r}")
        exclude = init.get("exclude") or []
        if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
            raise ConfigError(source, f"model.init.exclude must be a list of patterns, "
                              f"got {exclude!r}")
    freeze = model_cfg.get("freeze") or []
    if not isinstance(freeze, list) or not all(isinstance(m, str) and m for m in freeze):
        raise ConfigError(source, f"model.freeze must be a list of module names, got {freeze!r}")
    steps = model_cfg.get("freeze_steps", 0)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(source, f"model.freeze_steps must be an integer >= 0, got {steps!r}")


def map_names(weights: dict, prefix_map: dict, exclude: list) -> tuple[dict, list[str]]:
    """({dst name: tensor}, [excluded or unmapped src names])."""
    out, skipped = {}, []
    for src, tensor in weights.items():
        dst = src
        if prefix_map:
            match = max((p for p in prefix_map if src.startswith(p)), key=len, default=None)
            if match is None:
                skipped.append(src)
                continue
            dst = prefix_map[match] + src[len(match):]
        if any(fnmatch.fnmatchcase(name, pat) for pat in exclude for name in (src, dst)):
            skipped.append(src)
            continue
        out[dst] = tensor
    return out, skipped


@torch.no_grad()
def load_init(model: torch.nn.Module, init: dict, source: str) -> dict:
    """Copy the mapped weights of `init['path']` into `model`; returns the report."""
    path = init["path"]
    from lidtool.train.checkpoint import load_weights
    mapped, skipped = map_names(load_weights(path), init.get("prefix_map") or {},
                                init.get("exclude") or [])
    own = model.state_dict()
    for name, tensor in mapped.items():
        if name in own and tuple(own[name].shape) != tuple(tensor.shape):
            raise CheckpointError(path, f"tensor '{name}' has shape {tuple(tensor.shape)} "
                                  f"there but {tuple(own[name].shape)} in this model",
                                  fix="exclude it (model.init.exclude) or map it elsewhere")
    loaded = sorted(n for n in mapped if n in own)
    if not loaded:
        raise ConfigError(source, f"model.init: no tensor of {path} matches this model",
                          fix="check model.init.prefix_map / exclude")
    for name in loaded:
        own[name].copy_(mapped[name].to(own[name].device, own[name].dtype))
    report = {"path": str(path), "loaded": loaded,
              "missing": sorted(n for n in own if n not in mapped),
              "unexpected": sorted(n for n in mapped if n not in own), "skipped": skipped}
    log.info("model.init: loaded %d tensors from %s; %d missing (kept their initial "
             "values), %d unexpected (ignored), %d excluded/unmapped", len(loaded), path,
             len(report["missing"]), len(report["unexpected"]), len(skipped))
    for kind in ("missing", "unexpected"):
        if report[kind]:
            log.info("model.init %s: %s", kind, ", ".join(report[kind][:20])
                     + (" ..." if len(report[kind]) > 20 else ""))
    return report


def write_report(path, report: dict) -> None:
    with atomic_open(path) as f:
        json.dump(report, f, indent=1)
        f.write("\n")


class Freezer:
    """The frozen modules of `model` (model.freeze) until step model.freeze_steps."""

    def __init__(self, model: torch.nn.Module, model_cfg: dict, source: str):
        self.model = model
        self.names = list(model_cfg.get("freeze") or [])
        self.until = int(model_cfg.get("freeze_steps") or 0)
        modules = dict(model.named_modules())
        for name in self.names:
            if name not in modules:
                raise ConfigError(source, f"model.freeze: the model has no module '{name}'",
                                  fix="use names such as backbone, backbone.encoder, "
                                  "classifier, classifier.head")
        self.modules = [modules[n] for n in self.names]
        self.frozen = False

    def _set(self, frozen: bool) -> None:
        for module in self.modules:
            for p in module.parameters():
                p.requires_grad_(not frozen)
        self.frozen = frozen

    def update(self, step: int) -> None:
        """Freeze or unfreeze for `step` (called before every step)."""
        want = bool(self.names) and (self.until == 0 or step < self.until)
        if want != self.frozen:
            self._set(want)
            log.info("step %d: %s %s", step, "froze" if want else "unfroze",
                     ", ".join(self.names))

    def bn_context(self):
        """Inside: BatchNorm running statistics of the frozen modules stay unchanged."""
        from lidtool.train.strategies import frozen_bn_stats
        stack = contextlib.ExitStack()
        if self.frozen:
            for module in self.modules:
                stack.enter_context(frozen_bn_stats(module))
        return stack

    @contextlib.contextmanager
    def thawed(self):
        """Inside: the frozen parameters look trainable (for building an optimiser, which
        takes only parameters with requires_grad, so that unfreezing can train them)."""
        frozen = self.frozen
        if frozen:
            self._set(False)
        try:
            yield
        finally:
            if frozen:
                self._set(True)

    def state_dict(self) -> dict:
        return {"names": self.names, "frozen": self.frozen}

    def load_state_dict(self, state: dict) -> None:
        if state.get("names", []) != self.names:
            raise ValueError(f"checkpoint froze {state.get('names')}, this run {self.names}")
        self._set(bool(state.get("frozen")))
