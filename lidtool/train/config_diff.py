"""Resuming with a changed config: what differs from the checkpoint's, and applying it.

A resumed run restores the optimizer and scheduler from the checkpoint, so a changed
learning rate (or any other training setting) would otherwise be silently ignored or only
half applied. `lidtool train` therefore refuses a resume whose config differs in anything but
the step budget (`train.steps`, a strategy's `<section>.steps`), listing the keys;
`--allow-config-change` applies the new config on purpose, including the optimizer's
hyper-parameters and the schedule's base learning rates (`apply_hyperparams`).

Not compared either: the `mini` section (what it changes is compared in the sections it
sets) and `model.init` (read only at step 0; a resumed run has the weights in its
checkpoint, so the init file may have moved). A key absent from an older checkpoint's
config counts as its default.
"""
from __future__ import annotations

from lidtool.errors import CheckpointError

STEP_BUDGET = ("steps",)       # <section>.steps: more (or fewer) steps is a plain resume
NOT_COMPARED = ("mini", "model.init")
_MISSING = object()


def _flatten(cfg, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in (cfg or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_differences(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """[(dotted key, checkpoint value, this run's value)] of the keys that differ, sorted;
    the step budget and NOT_COMPARED are left out."""
    from lidtool.train.config import defaults
    base = _flatten(defaults())
    a, b = _flatten(old), _flatten(new)
    diffs = []
    for key in sorted(set(a) | set(b)):
        leaf = key.partition(".")[2]
        if leaf in STEP_BUDGET or any(key == p or key.startswith(p + ".")
                                      for p in NOT_COMPARED):
            continue
        va, vb = a.get(key, base.get(key, _MISSING)), b.get(key, base.get(key, _MISSING))
        if va != vb and not (va == {} and vb is _MISSING or vb == {} and va is _MISSING):
            diffs.append((key, va, vb))
    return diffs


def _show(value) -> str:
    return "(absent)" if value is _MISSING else repr(value)


def check_resume_config(path, old: dict, new: dict, allow: bool, log=None) -> list[str]:
    """Refuse (CheckpointError naming checkpoint `path` and the keys) a resume whose config
    differs from the checkpoint's, unless `allow`; returns the differing keys."""
    diffs = config_differences(old, new)
    if not diffs:
        return []
    text = "; ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, a, b in diffs)
    if not allow:
        raise CheckpointError(path, f"this run's config differs from the checkpoint's in "
                              f"{len(diffs)} key(s): {text}",
                              fix="resume with the config it was trained with, start over "
                                  "with --resume none, or apply the change on purpose with "
                                  "--allow-config-change")
    if log is not None:
        log.warning("%s: applying a changed config on resume (--allow-config-change): %s",
                    path, text)
    return [k for k, _, _ in diffs]


def hyperparams(optimizer, scheduler) -> dict:
    """The optimizer's per-group settings (not its state) and the schedule's base rates."""
    return {"groups": [{k: v for k, v in g.items() if k != "params"}
                       for g in optimizer.param_groups],
            "base_lrs": list(scheduler.base_lrs)}


def apply_hyperparams(optimizer, scheduler, saved: dict) -> None:
    """Put `hyperparams()` taken from the freshly built (new config) optimizer back after a
    checkpoint's optimizer/scheduler state was loaded, keeping the loaded momentum buffers
    and step count; the current learning rate follows the new base rate and schedule."""
    if len(saved["groups"]) != len(optimizer.param_groups):
        raise ValueError(f"the new config gives {len(saved['groups'])} parameter groups, the "
                         f"checkpoint {len(optimizer.param_groups)}")
    scheduler.base_lrs = list(saved["base_lrs"])
    for group, new, base, factor in zip(optimizer.param_groups, saved["groups"],
                                        scheduler.base_lrs, scheduler.lr_lambdas):
        group.update({k: v for k, v in new.items() if k not in ("lr", "initial_lr")})
        group["initial_lr"] = base
        group["lr"] = base * factor(scheduler.last_epoch)
    scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]
