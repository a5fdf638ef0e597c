"""Back-end configuration: the `backend:` section of a system's YAML config.

    backend:
      chain: [lnorm, lda, center, lnorm]   # transforms in order: lnorm | lda | center
      classifier: lr                       # cosine | lr | glc
      lda_dim: 100                         # capped at (number of languages - 1); null = C-1

The AP20-OLR chain is the example above; the i-vector system of METHODS.md section 1 is
`chain: [lnorm, lda, lnorm]`, `classifier: cosine` (the default).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lidtool.backend.classifiers import CLASSIFIERS
from lidtool.backend.transforms import TRANSFORMS
from lidtool.errors import ConfigError


@dataclass
class BackendConfig:
    chain: list = field(default_factory=lambda: ["lnorm", "lda", "lnorm"])
    classifier: str = "cosine"
    lda_dim: int | None = None
    lda_within_floor: float = 1e-4
    lnorm_scale_sqrt_dim: bool = True
    lr_l2: float = 1e-3
    lr_class_weight: str = "balanced"
    lr_max_iter: int = 500
    glc_cov_floor: float = 1e-4

    @classmethod
    def from_dict(cls, d: dict | None, where="<config>") -> "BackendConfig":
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ConfigError(where, f"unknown backend key(s) {bad}",
                              fix=f"known keys: {', '.join(sorted(known))}")
        cfg = cls(**d)
        if not isinstance(cfg.chain, list) or any(t not in TRANSFORMS for t in cfg.chain):
            raise ConfigError(where, f"backend.chain must be a list of {sorted(TRANSFORMS)}, "
                              f"got {cfg.chain!r}")
        if cfg.classifier not in CLASSIFIERS:
            raise ConfigError(where, f"backend.classifier must be one of {sorted(CLASSIFIERS)}, "
                              f"got {cfg.classifier!r}")
        if cfg.lda_dim is not None and (not isinstance(cfg.lda_dim, int) or cfg.lda_dim < 1):
            raise ConfigError(where, f"backend.lda_dim must be a positive int or null, "
                              f"got {cfg.lda_dim!r}")
        if cfg.lr_class_weight not in ("balanced", "none"):
            raise ConfigError(where, "backend.lr_class_weight must be 'balanced' or 'none'")
        for name in ("lda_within_floor", "lr_l2", "glc_cov_floor"):
            v = getattr(cfg, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(where, f"backend.{name} must be a number >= 0, got {v!r}")
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
