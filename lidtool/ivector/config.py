"""The i-vector system's YAML config (egs/<recipe>/conf/ivector.yaml) with overrides.

Sections: `features` (how frames are prepared), `ubm`, `extractor`, and `backend` (read by
lidtool.backend.config). `--override ubm.num_components=512` style overrides are applied
before validation; unknown keys and bad values are ConfigErrors naming the file.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lidtool.errors import ConfigError
from lidtool.threads import add_num_threads_argument


@dataclass
class FeatureOpts:
    cmn_window: int = 300      # sliding CMN window (frames), as Kaldi's LID recipes
    use_vad: bool = True       # keep only frames marked voiced in vad.scp


@dataclass
class UbmOpts:
    # Paper: 2048. Default 256: the synthetic corpus has a few hours of 6 languages and
    # 2 CPU cores; 256 full-covariance Gaussians keep >1000 frames per component and one EM
    # pass over the training set to seconds, while 2048 would be data-starved here.
    num_components: int = 256
    num_frames_init: int = 200000   # frames sampled (reservoir) for the splitting init
    num_iters_init: int = 2         # EM iterations after each round of splitting
    num_iters_diag: int = 4
    num_iters_full: int = 4
    num_gselect: int = 20           # Gaussians kept per frame for full-covariance stats
    var_floor: float = 0.01         # relative to the global (co)variance
    seed: int = 0


@dataclass
class ExtractorOpts:
    ivector_dim: int = 100          # paper 300 (AP20: 600); 100 suits 256 Gaussians / 6 langs
    num_iters: int = 5
    num_gselect: int = 20
    min_post: float = 0.025         # Kaldi's --min-post for i-vector statistics
    posterior_scale: float = 1.0
    init_scale: float = 0.2
    min_divergence: bool = True
    seed: int = 0


@dataclass
class IvectorConfig:
    features: FeatureOpts = field(default_factory=FeatureOpts)
    ubm: UbmOpts = field(default_factory=UbmOpts)
    extractor: ExtractorOpts = field(default_factory=ExtractorOpts)
    backend: dict = field(default_factory=dict)
    path: str = "<defaults>"

    def get(self, dotted: str):
        section, _, key = dotted.partition(".")
        obj = getattr(self, section, None)
        if obj is None or section == "path":
            raise ConfigError(self.path, f"unknown config key '{dotted}'")
        if not key:
            return obj
        if isinstance(obj, dict):
            if key not in obj:
                raise ConfigError(self.path, f"unknown config key '{dotted}'")
            return obj[key]
        if not hasattr(obj, key):
            raise ConfigError(self.path, f"unknown config key '{dotted}'")
        return getattr(obj, key)

    def to_dict(self) -> dict:
        return {"features": dataclasses.asdict(self.features),
                "ubm": dataclasses.asdict(self.ubm),
                "extractor": dataclasses.asdict(self.extractor), "backend": dict(self.backend)}


def _read_yaml(p: Path, seen: tuple = ()) -> dict:
    """One YAML mapping with its `base:` chain resolved: `base: other.yaml` (relative to this
    file's folder) is read first and this file's sections are merged into it key by key."""
    if not p.is_file():
        raise ConfigError(p, "config file does not exist")
    if p.resolve() in seen:
        raise ConfigError(p, "`base:` chain loops back to this file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise ConfigError(p, f"invalid YAML: {err}", line=None if line is None else line + 1)
    if not isinstance(data, dict):
        raise ConfigError(p, "top level must be a mapping")
    base = data.pop("base", None)
    if base is None:
        return data
    merged = _read_yaml(p.parent / str(base), seen + (p.resolve(),))
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_yaml(path, overrides=()) -> dict:
    """Read a YAML mapping (empty file -> {}; `base:` resolved) and apply `a.b=value`
    overrides."""
    data: dict = _read_yaml(Path(path)) if path is not None else {}
    for item in overrides or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(path or "<command line>", f"override '{item}' is not key=value")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(path or "<command line>", f"override '{item}': '{part}' "
                                  "is not a section")
        node[parts[-1]] = yaml.safe_load(value)
    return data


def fill_dataclass(cls, values: dict, where, section: str):
    """Build dataclass `cls` from `values`, rejecting unknown keys and mistyped values."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(where, f"section '{section}' must be a mapping")
    known = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(where, f"unknown key '{section}.{key}'",
                              fix=f"known keys: {', '.join(sorted(known))}")
        default = known[key].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = True
        if not ok:
            raise ConfigError(where, f"'{section}.{key}' must be a {type(default).__name__}, "
                              f"got {value!r}")
        out[key] = value
    return cls(**out)


def load_ivector_config(path=None, overrides=()) -> IvectorConfig:
    data = load_yaml(path, overrides)
    where = str(path) if path is not None else "<defaults>"
    unknown = set(data) - {"features", "ubm", "extractor", "backend"}
    if unknown:
        raise ConfigError(where, f"unknown section(s) {sorted(unknown)}",
                          fix="use features, ubm, extractor, backend")
    cfg = IvectorConfig(fill_dataclass(FeatureOpts, data.get("features"), where, "features"),
                        fill_dataclass(UbmOpts, data.get("ubm"), where, "ubm"),
                        fill_dataclass(ExtractorOpts, data.get("extractor"), where, "extractor"),
                        dict(data.get("backend") or {}), where)
    for name, value in (("ubm.num_components", cfg.ubm.num_components),
                        ("ubm.num_gselect", cfg.ubm.num_gselect),
                        ("extractor.ivector_dim", cfg.extractor.ivector_dim),
                        ("extractor.num_gselect", cfg.extractor.num_gselect)):
        if value < 1:
            raise ConfigError(where, f"'{name}' must be >= 1, got {value}")
    if cfg.ubm.var_floor <= 0:
        raise ConfigError(where, "'ubm.var_floor' must be > 0")
    return cfg


def add_config_args(parser) -> None:
    """--config/--override/--num-threads, shared by the i-vector and back-end commands."""
    parser.add_argument("--config", default=None,
                        help="system YAML (e.g. conf/ivector.yaml); defaults if omitted")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. ubm.num_components=512 (repeatable)")
    add_num_threads_argument(parser)


def config_from_args(args) -> IvectorConfig:
    return load_ivector_config(args.config, args.override)
