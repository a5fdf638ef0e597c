"""Reading feature/VAD option files: Kaldi `--opt=value` .conf files or YAML mappings.

Both formats give a flat `{name: value}` dict with Kaldi's dashes turned into underscores,
plus the line each option came from, so that an unknown or malformed option is reported as
`conf/mfcc.conf:3: ...`. Typing and validation of the values is left to the config classes.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from lidtool.errors import ConfigError

_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


def _norm(key: str) -> str:
    return key.strip().lstrip("-").replace("-", "_")


def read_options(path) -> tuple[dict[str, object], dict[str, int]]:
    """Read `path` (.yaml/.yml: a mapping; anything else: Kaldi `--name=value` lines).

    Returns (options, line_of_option). Comments (`#` to end of line) and blank lines are
    skipped in .conf files, as Kaldi's option parser does.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "config file does not exist")
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(path, f"not valid YAML: {err}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(path, "expected a mapping of option: value")
        return {_norm(str(k)): v for k, v in data.items()}, {}
    options: dict[str, object] = {}
    lines: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            if not text.startswith("--") or "=" not in text:
                raise ConfigError(path, f"expected '--option=value', got '{text}'", line=lineno,
                                  fix="write Kaldi-style lines such as --num-ceps=20")
            name, value = text[2:].split("=", 1)
            options[_norm(name)] = value.strip()
            lines[_norm(name)] = lineno
    return options, lines


def coerce(value, kind, *, path, name: str, line: int | None = None):
    """Convert a string/YAML value to `kind` (bool, int, float, str) or raise ConfigError."""
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(path, f"option '{name}' expects {kind.__name__}, got '{value}'",
                          line=line) from None


def build_dataclass(cls, options: dict, *, path, lines: dict | None = None,
                    aliases: dict[str, str] | None = None, ignore: set[str] = frozenset()):
    """Fill dataclass `cls` from `options` (already underscore names), with `aliases`
    mapping alternative (Kaldi) names to field names; unknown names are ConfigErrors."""
    lines = lines or {}
    aliases = aliases or {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kinds = {name: _kind(f.type) for name, f in fields.items()}
    values = {}
    for key, value in options.items():
        if key in ignore:
            continue
        name = aliases.get(key, key)
        if name not in fields:
            known = sorted(set(fields) | set(aliases))
            raise ConfigError(path, f"unknown option '{key}'", line=lines.get(key),
                              fix="known options: " + ", ".join(known))
        values[name] = None if value is None else coerce(value, kinds[name], path=path,
                                                         name=key, line=lines.get(key))
    return cls(**values)


def _kind(annotation) -> type:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    for name, kind in (("bool", bool), ("int", int), ("float", float)):
        if text.startswith(name):
            return kind
    return str
