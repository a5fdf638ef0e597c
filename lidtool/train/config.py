"""Training configs: YAML files with defaults, `--override a.b=c` and a `mini` section.

A config is a mapping of sections (see DEFAULTS). Closed sections reject unknown keys, so a
typo such as `optim.weight_dacay` is an error naming the file and key rather than a silent
default. Open sections (`model`, `head`, `mini` and the option dicts of strategies) accept any
key; their consumers validate them.

`--override key.sub=value` parses `value` as YAML (`train.steps=100`, `model.hidden=[64]`,
`wma.enabled=true`). The `mini` section of a config is a mapping of such overrides
(`{train.steps: 60, model.channels: 32}`) applied first when `--mini` is given, so every
system has a CPU-minute variant next to its full settings.

`base: other.yaml` (a path relative to the config's folder; `$VARS` are expanded, e.g.
`${LIDTOOL_ROOT}/conf_templates/train/x.yaml`) makes a config a variant of
another: the base is read first (recursively), then this file is merged into it key by key,
except that a `model` or `head` section given here replaces the base's whole section (a
TDNN variant of a ResNet system must not inherit ResNet options) and then also drops the
base's `mini` entries for that section (`model.*` / `head.*`).

Strategies (lidtool.train.strategies) register their own sections with `register_section`.

`data.frame_labels` (an ali.scp of per-frame labels) and `data.num_phones` (default: the
`num_pdfs` file next to it) feed strategies that train a frame-level branch (`multitask`);
other strategies ignore them. `head.schedule` (a mapping, see lidtool.losses.schedule) makes
the trainer warm up the head's margin.

Keys whose defaults keep the behaviour of earlier versions (where they are documented):
  data.label_table   utt2lang | utt2spk | any utt2<x> | none        (lidtool.train.labels)
  data.group_table   null | utt2<x>: what the samplers group by     (lidtool.train.labels)
  data.valid_dir     null | a data dir; train.valid_every: null = ckpt_every
                                                                    (lidtool.train.validation)
  data.adapt_dir     null | a data dir: unlabelled adaptation data (lidtool.train.dropadapt)
  train.average_last 0 (off) | N <= keep_checkpoints                (lidtool.train.averaging)
  train.accum_steps  1; train.amp: none | bf16 | fp16               (lidtool.train.update)
  optim.lr_scales    {}; optim.no_decay_norm_bias: false            (lidtool.train.param_groups)
  model.init, model.freeze, model.freeze_steps                      (lidtool.train.init)
  augment.*          all off: masks over dims / frames, VTLP        (lidtool.train.augment)
  model.activation   relu | leaky_relu (model.leaky_slope 0.01)     (lidtool.nnet.model)
  sampler.name       random | balanced | alpha | distinct           (lidtool.train.samplers)
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from lidtool.errors import ConfigError
from lidtool.train import augment

OPEN = object()   # marker: a section whose keys are not checked here

DEFAULTS: dict = {
    "model": OPEN,
    "head": OPEN,
    "data": {"min_chunk": 200, "max_chunk": 400, "min_frames": 50, "cmn_window": 300,
             "preload": True, "cache_mb": 256, "num_workers": 0, "frame_labels": None,
             "num_phones": None,
             "label_table": "utt2lang", "group_table": None, "valid_dir": None,
             "adapt_dir": None},
    "sampler": {"name": "random", "alpha": 0.5},
    "train": {"strategy": "plain", "steps": 1000, "batch_size": 64, "seed": 0,
              "log_every": 10, "ckpt_every": 500, "keep_checkpoints": 3,
              "grad_clip": 0.0, "valid_every": None, "average_last": 0, "accum_steps": 1,
              "amp": "none"},
    "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
              "nesterov": False, "betas": [0.9, 0.999], "lr_scales": {},
              "no_decay_norm_bias": False},
    "sched": {"name": "step", "decay_every": None, "gamma": 0.1, "warmup_steps": 0,
              "final_lr_scale": 0.0},
    "wma": {"enabled": False, "alpha": 0.99},
    "augment": augment.SECTION,
    "mini": OPEN,
}
_MODEL_DEFAULTS = {"hidden": [512], "embedding_layer": "fc1"}
_HEAD_DEFAULTS = {"name": "softmax"}

CHOICES = {
    ("sampler", "name"): ("random", "balanced", "alpha", "distinct"),
    ("optim", "name"): ("sgd", "adam", "adamw"),
    ("sched", "name"): ("constant", "step", "linear", "cosine"),
    ("train", "amp"): ("none", "bf16", "fp16"),
}


# The type of a closed-section key is that of its default; these keys default to null and
# take a value of the given type when set. Numbers are checked in range where a bad value
# would fail late or silently (checked after the type, so `v` is a number here).
NULLABLE = {("data", "frame_labels"): str, ("data", "num_phones"): int,
            ("data", "group_table"): str, ("data", "valid_dir"): str,
            ("data", "adapt_dir"): str,
            ("train", "valid_every"): int, ("sched", "decay_every"): int,
            ("multitask", "layer"): int}
RANGES = {("optim", "lr"): (lambda v: v > 0, "> 0"),
          ("optim", "momentum"): (lambda v: 0 <= v < 1, "in [0, 1)"),
          ("optim", "weight_decay"): (lambda v: v >= 0, ">= 0"),
          ("train", "grad_clip"): (lambda v: v >= 0, ">= 0"),
          ("sched", "gamma"): (lambda v: v > 0, "> 0"),
          ("sched", "warmup_steps"): (lambda v: v >= 0, ">= 0"),
          ("sched", "final_lr_scale"): (lambda v: v >= 0, ">= 0"),
          ("sched", "decay_every"): (lambda v: v > 0, "> 0"),
          ("sampler", "alpha"): (lambda v: v >= 0, ">= 0"),
          ("data", "min_frames"): (lambda v: v > 0, "> 0"),
          ("data", "cmn_window"): (lambda v: v >= 0, ">= 0 (0: no CMN)"),
          ("data", "cache_mb"): (lambda v: v >= 0, ">= 0"),
          ("data", "num_workers"): (lambda v: v >= 0, ">= 0"),
          ("dcl", "steps"): (lambda v: v > 0, "> 0"),
          **augment.RANGES}
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "a mapping"}


def register_section(name: str, defaults: dict) -> None:
    """Declare a config section (used by strategies: `dcl`, `wadcl`, ...)."""
    DEFAULTS[name] = defaults


def _merge(base: dict, new: dict, schema, source: str, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in new.items():
        where = f"{prefix}{key}"
        if schema is not OPEN and isinstance(schema, dict) and schema and key not in schema:
            raise ConfigError(source, f"unknown key '{where}'",
                              fix="known keys: " + ", ".join(sorted(schema)))
        sub = OPEN if schema is OPEN or not schema else schema[key]
        if isinstance(value, dict) and (isinstance(sub, dict) or sub is OPEN):
            out[key] = _merge(out.get(key) or {}, value, sub, source, where + ".")
        elif isinstance(sub, dict) and sub and value is not None:
            raise ConfigError(source, f"'{where}' must be a mapping, got {value!r}")
        else:
            out[key] = value
    return out


def _parse_override(text: str) -> tuple[list[str], object]:
    if "=" not in text:
        raise ConfigError("--override", f"'{text}' is not key.sub=value")
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return key.strip().split("."), parsed


def _nest(keys: list[str], value) -> dict:
    out: dict = value
    for key in reversed(keys):
        out = {key: out}
    return out


def defaults() -> dict:
    base = {k: (copy.deepcopy(v) if v is not OPEN else {}) for k, v in DEFAULTS.items()}
    base["model"] = dict(_MODEL_DEFAULTS)
    base["head"] = dict(_HEAD_DEFAULTS)
    return base


def load_config(path, overrides=(), mini: bool = False) -> dict:
    """Read YAML `path`, fill defaults, apply the `mini` section (if `mini`) then
    `overrides` (list of 'a.b=c'), and validate. Errors name `path` (or `--override`)."""
    import lidtool.train.strategies  # noqa: F401  (strategies register their sections)
    path = Path(path)
    cfg = _merge(defaults(), _read_with_base(path, ()), DEFAULTS, str(path))
    layers = []
    if mini:
        mini_cfg = cfg.get("mini") or {}
        if not mini_cfg:
            raise ConfigError(path, "--mini given but the config has no 'mini' section")
        layers += [(str(k).split("."), v, f"{path} (mini)") for k, v in mini_cfg.items()]
    layers += [(*_parse_override(o), "--override") for o in overrides]
    for keys, value, source in layers:
        cfg = _merge(cfg, _nest(keys, value), DEFAULTS, source)
    validate(cfg, str(path))
    return cfg


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(path, "config file does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(path, f"not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "a training config must be a mapping of sections")
    return data


def _expand_base(base: str, path: Path) -> str:
    """`base:` with $VARS expanded: `${LIDTOOL_ROOT}/conf_templates/...` (path.sh exports it)
    finds a repository template from a recipe copied anywhere."""
    expanded = os.path.expandvars(base)
    if "$" in expanded:
        raise ConfigError(path, f"base: '{base}' names an unset environment variable",
                          fix="source the recipe's path.sh (it sets LIDTOOL_ROOT)")
    return expanded


def _read_with_base(path: Path, seen: tuple) -> dict:
    """The raw mapping of `path` with its `base:` chain resolved (no defaults yet)."""
    if path.resolve() in seen:
        raise ConfigError(path, "`base:` chain loops back to this file")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    base_data = _read_with_base(path.parent / _expand_base(str(base), path),
                                seen + (path.resolve(),))
    for section in ("model", "head"):
        if section in data and base_data.get("mini"):
            base_data["mini"] = {k: v for k, v in base_data["mini"].items()
                                 if not str(k).startswith(section + ".")}
    for key, value in data.items():
        if key in ("model", "head") or not isinstance(value, dict):
            base_data[key] = value
        else:
            base_data[key] = {**(base_data.get(key) or {}), **value}
    _ = _merge(defaults(), data, DEFAULTS, str(path))   # check this file's own keys
    return base_data


def check_types(cfg: dict, source: str) -> None:
    """Every section is a mapping and every key of a closed section has its default's type
    (a quoted "false" is not a boolean, `true` is not a step count) and lies in its RANGES.
    A number written as a string that YAML 1.1 does not read as one (`1e-3`) becomes it."""
    for section, schema in DEFAULTS.items():
        values = cfg.get(section)
        if not isinstance(values, dict):
            raise ConfigError(source, f"'{section}' must be a mapping of keys, got {values!r}")
        if schema is OPEN:
            continue
        for key, default in schema.items():
            values[key] = _typed_value(section, key, values.get(key), default, source)


def _typed_value(section: str, key: str, value, default, source: str):
    want = NULLABLE.get((section, key)) if default is None else type(default)
    if want is None or (value is None and default is None):
        return value
    if want is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    ok = (isinstance(value, bool) if want is bool
          else _is_int(value) if want is int
          else isinstance(value, (int, float)) and not isinstance(value, bool) if want is float
          else isinstance(value, want))
    if not ok:
        raise ConfigError(source, f"{section}.{key} must be {_TYPE_NAMES[want]}, got "
                          f"{value!r} ({type(value).__name__})",
                          fix=f"e.g. {section}.{key}={_example(want, default)}")
    check = RANGES.get((section, key))
    if check is not None and not check[0](value):
        raise ConfigError(source, f"{section}.{key} must be {check[1]}, got {value!r}")
    return value


def _example(want, default) -> str:
    if default is not None:
        return yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("...").strip()
    return {int: "10", str: "path", float: "0.5"}.get(want, "null")


def validate(cfg: dict, source: str) -> None:
    check_types(cfg, source)
    for (section, key), allowed in CHOICES.items():
        value = cfg[section].get(key)
        if value not in allowed:
            raise ConfigError(source, f"{section}.{key}: '{value}' is not one of "
                              f"{', '.join(allowed)}")
    data, train = cfg["data"], cfg["train"]
    if not 0 < int(data["min_chunk"]) <= int(data["max_chunk"]):
        raise ConfigError(source, "data: need 0 < min_chunk <= max_chunk, got "
                          f"{data['min_chunk']} / {data['max_chunk']}")
    for key in ("steps", "batch_size", "log_every", "ckpt_every", "keep_checkpoints"):
        if not isinstance(train[key], int) or train[key] <= 0:
            raise ConfigError(source, f"train.{key} must be a positive integer, "
                              f"got {train[key]!r}")
    for key in ("accum_steps",):
        if not _is_int(train[key]) or train[key] <= 0:
            raise ConfigError(source, f"train.{key} must be a positive integer, "
                              f"got {train[key]!r}")
    if train["valid_every"] is not None and (not _is_int(train["valid_every"])
                                             or train["valid_every"] <= 0):
        raise ConfigError(source, "train.valid_every must be a positive integer (or null: "
                          f"every ckpt_every steps), got {train['valid_every']!r}")
    average = train["average_last"]
    if not _is_int(average) or average < 0:
        raise ConfigError(source, f"train.average_last must be an integer >= 0, got {average!r}")
    if average > int(train["keep_checkpoints"]):
        raise ConfigError(source, f"train.average_last={average} needs at least that many "
                          f"checkpoints kept, but train.keep_checkpoints="
                          f"{train['keep_checkpoints']}",
                          fix=f"set train.keep_checkpoints >= {average}")
    _validate_labels(data, source)
    _validate_optim_groups(cfg["optim"], source)
    augment.validate_section(cfg["augment"], source)
    from lidtool.train.init import validate_model_init
    validate_model_init(cfg["model"], source)
    if not 0.0 <= float(cfg["wma"]["alpha"]) < 1.0:
        raise ConfigError(source, f"wma.alpha must be in [0, 1), got {cfg['wma']['alpha']}")
    if not cfg["model"].get("name"):
        raise ConfigError(source, "model.name is missing")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_labels(data: dict, source: str) -> None:
    from lidtool.train.labels import NO_LABELS, is_table_name
    if data["label_table"] != NO_LABELS and not is_table_name(data["label_table"]):
        raise ConfigError(source, f"data.label_table must be a utt2<x> table of the data dir "
                          f"(utt2lang, utt2spk, ...) or none, got {data['label_table']!r}")
    if data["group_table"] is not None and not is_table_name(data["group_table"]):
        raise ConfigError(source, "data.group_table must be a utt2<x> table of the data dir "
                          f"or null, got {data['group_table']!r}")
    if data["valid_dir"] is not None and not isinstance(data["valid_dir"], str):
        raise ConfigError(source, f"data.valid_dir must be a path, got {data['valid_dir']!r}")


def _validate_optim_groups(optim: dict, source: str) -> None:
    scales = optim["lr_scales"]
    if not isinstance(scales, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            and v >= 0 for k, v in scales.items()):
        raise ConfigError(source, "optim.lr_scales must map module names to numbers >= 0, "
                          f"got {scales!r}", fix="e.g. optim.lr_scales={backbone: 0.1}")
    if not isinstance(optim["no_decay_norm_bias"], bool):
        raise ConfigError(source, "optim.no_decay_norm_bias must be true or false, got "
                          f"{optim['no_decay_norm_bias']!r}")


def dump_config(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)
