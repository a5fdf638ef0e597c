"""Optimiser parameter groups from the config: per-module learning-rate scales and no weight
decay on norms and biases.

    optim:
      lr_scales: {backbone: 0.1}     # module name (a prefix of parameter names) -> lr factor
      no_decay_norm_bias: true       # weight_decay 0 for every 0-/1-dim parameter

Names are those of the LID model (`backbone.encoder...`, `classifier.head...`); the longest
matching module name wins. Parameters of modules a strategy owns besides the model (WADCL's
h_r, the multitask phone head) have no model name and keep scale 1. "Norms and biases" are
the parameters with at most one dimension (BatchNorm/LayerNorm weights and biases, every
bias), the usual rule. Each group carries its `lr_scale`, so a schedule (LambdaLR scales
each group's initial lr) keeps the ratios. Without either option the optimiser gets the
plain parameter list: one group, exactly as before.
"""
from __future__ import annotations

from lidtool.errors import ConfigError


def needs_groups(cfg: dict) -> bool:
    return bool(cfg.get("lr_scales")) or bool(cfg.get("no_decay_norm_bias"))


def param_groups(params, names: dict[int, str], cfg: dict, source: str = "<config>") -> list:
    """Split `params` into optimiser groups; `names` maps id(param) -> model name."""
    scales = {str(k): float(v) for k, v in (cfg.get("lr_scales") or {}).items()}
    no_decay = bool(cfg.get("no_decay_norm_bias"))
    base_lr, wd = float(cfg["lr"]), float(cfg["weight_decay"])
    used: set[str] = set()
    groups: dict[tuple[float, bool], list] = {}
    for p in params:
        name = names.get(id(p), "")
        match = max((m for m in scales if name == m or name.startswith(m + ".")), key=len,
                    default=None)
        if match is not None:
            used.add(match)
        scale = scales[match] if match is not None else 1.0
        decay = not (no_decay and p.ndim <= 1)
        groups.setdefault((scale, decay), []).append(p)
    unused = sorted(set(scales) - used)
    if unused:
        raise ConfigError(source, f"optim.lr_scales: no parameter of the model is under "
                          f"'{unused[0]}'", fix="use module names such as backbone, "
                          "backbone.encoder, classifier, classifier.head")
    order = sorted(groups, key=lambda k: (k[0] != 1.0, not k[1], k[0]))
    return [{"params": groups[k], "lr": base_lr * k[0], "lr_scale": k[0],
             "weight_decay": wd if k[1] else 0.0} for k in order]
