"""RESULTS.md tables built from score files by a recipe's scoring stage.

A recipe describes its tables in YAML (which systems, which test conditions, which metrics,
where score files live); this module scores every existing (system, condition) pair and
renders markdown. Nothing here accepts a number from anywhere but a score file or a training
log. Reference numbers from a paper may be given for one purpose only: an automatic
comparison of the *ordering* of systems (pairs ranked the same way, Kendall's tau), printed
under the table, so a reader sees at once where a run agrees with the paper and where not.
A spec may `include:` other specs (their tables come first), so a variant of a recipe adds
tables without copying the others.
"""
from __future__ import annotations

import itertools
import json
import logging
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lidtool.data.tables import read_table
from lidtool.errors import ConfigError
from lidtool.metrics.report import score_files
from lidtool.metrics.values_table import ValuesTableSpec, build_values_table, check_keys

log = logging.getLogger(__name__)

# metric -> (column title, formatter, lower is better)
METRICS = {
    "accuracy": ("Acc %", lambda r: _pct(r["accuracy"], 1), False),
    "eer": ("EER %", lambda r: _pct(r["eer"], 2), True),
    "cavg": ("Cavg", lambda r: _fix(r["cavg"], 4), True),
    "min_cavg": ("minCavg", lambda r: _fix(r["min_cavg"], 4), True),
    "min_dcf": ("minDCF(0.01)", lambda r: _fix(r["min_dcf"]["p0.01"], 4), True),
}


def _pct(x, digits):
    return "–" if x is None else f"{100 * x:.{digits}f}"


def _fix(x, digits):
    return "–" if x is None else f"{x:.{digits}f}"


def _value(result: dict, metric: str):
    return result["min_dcf"]["p0.01"] if metric == "min_dcf" else result[metric]


@dataclass
class TableSpec:
    title: str
    systems: list[str]
    conditions: list[str]
    metrics: list[str]
    # paths: {system}, {condition} and the directories the caller names (e.g. {exp}, {data})
    scores: str = "{exp}/{system}/{condition}/scores"
    utt2lang: str = "{data}/{condition}/utt2lang"
    labels: dict[str, str] = field(default_factory=dict)
    note: str = ""
    # optional extra columns
    train_log: str | None = None            # "{exp}/{system}/train_log.jsonl" -> final loss
    log_columns: list[str] = field(default_factory=list)  # train-log keys, whole-run mean
    group_condition: str | None = None      # majority / minority accuracy on this condition
    group_train_utt2lang: str | None = None
    per_lang_condition: str | None = None   # accuracy per language (with test utterances)
    reference: dict = field(default_factory=dict)   # {system: {condition: {metric: value}}}
    reference_source: str = ""
    # the results YAML this table came from (named by errors); not a YAML key
    source: str = field(default="", compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict, source: str) -> "TableSpec":
        check_keys(cls, d, source, ("title", "systems", "conditions", "metrics"), "table")
        bad = [m for m in d["metrics"] if m not in METRICS]
        if bad:
            raise ConfigError(source, f"unknown metrics {bad} (known: {sorted(METRICS)})")
        return cls(**d, source=source)

    def paths(self) -> list[str]:
        return [p for p in (self.scores, self.utt2lang, self.train_log,
                            self.group_train_utt2lang) if p]


def load_specs(path, _seen: tuple = ()) -> list[TableSpec | ValuesTableSpec]:
    """The tables of a results spec: those of the specs its `include:` list names (paths
    relative to it, in order), then its own `tables` (so a variant of a recipe adds tables
    to another spec without copying it)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(path, f"cannot read results spec: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tables", []), list) or \
            not (doc.get("tables") or doc.get("include")):
        raise ConfigError(path, "expected a mapping with a 'tables' list (or 'include')")
    includes = doc.get("include", [])
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError(path, "'include' must be a list of results spec files")
    specs = []
    for name in includes:
        inc = path.parent / name
        if inc.resolve() in _seen + (path.resolve(),):
            raise ConfigError(path, f"results spec includes itself through {name}")
        specs += load_specs(inc, _seen + (path.resolve(),))
    return specs + [ValuesTableSpec.from_dict(t, str(path)) if "file" in t else
                    TableSpec.from_dict(t, str(path)) for t in doc.get("tables", [])]


def final_train_stats(log_path: Path, keys: list[str], tail: float = 0.1) -> dict[str, float]:
    """Mean of each key over the last `tail` share of the logged training steps."""
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    out = {}
    for key in keys:
        values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        if values:
            n = max(1, int(round(len(values) * tail)))
            out[key] = sum(values[-n:]) / n
    return out


def _majority_minority(train_utt2lang: Path) -> tuple[list[str], list[str]]:
    counts: dict[str, int] = {}
    for lang in read_table(train_utt2lang).values():
        counts[lang] = counts.get(lang, 0) + 1
    order = sorted(counts, key=lambda k: (-counts[k], k))
    half = len(order) // 2
    return order[:half], order[half:]


def _group_accuracy(result: dict, langs: list[str]):
    hits = total = 0
    for lang in langs:
        entry = result["per_lang"].get(lang)
        if entry and entry.get("count"):
            hits += entry["accuracy"] * entry["count"]
            total += entry["count"]
    return hits / total if total else None


# placeholders a table fills in itself; every other one is a directory the caller names
ROW_FIELDS = ("system", "condition")


def check_placeholders(spec: TableSpec | ValuesTableSpec, dirs: dict[str, str]) -> None:
    """Every {name} in the spec's paths is a row field or one of `dirs` (ConfigError if not)."""
    known = set(dirs) | (set(ROW_FIELDS) if isinstance(spec, TableSpec) else set())
    for path in spec.paths():
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(path) if name is not None}
        except ValueError as err:
            raise ConfigError(spec.source or "results spec",
                              f"table '{spec.title}': bad path template '{path}': {err}") from None
        unknown = sorted(names - known)
        if unknown:
            raise ConfigError(
                spec.source or "results spec",
                f"table '{spec.title}': unknown placeholder(s) "
                f"{', '.join('{' + n + '}' for n in unknown)} in '{path}'",
                fix=f"pass them as directories (make-results --dirs NAME=DIR); given: "
                    f"{', '.join(sorted(dirs)) or 'none'}")


def build_table(spec: TableSpec, root: Path, dirs: dict[str, str]) -> tuple[str, dict]:
    """Markdown for one table, and the raw results {system: {condition: metrics}}.

    `dirs` fills the spec's directory placeholders ({exp}, {data}, ...): all of them."""
    check_placeholders(spec, dirs)
    results: dict[str, dict[str, dict]] = {}
    missing = []
    for system in spec.systems:
        extra = [c for c in (spec.group_condition, spec.per_lang_condition)
                 if c and c not in spec.conditions]
        for cond in spec.conditions + list(dict.fromkeys(extra)):
            scores = root / spec.scores.format(system=system, condition=cond, **dirs)
            if not scores.is_file():
                missing.append(f"{system}/{cond}")
                continue
            utt2lang = root / spec.utt2lang.format(system=system, condition=cond, **dirs)
            results.setdefault(system, {})[cond] = score_files(scores, utt2lang)
    header = ["System"]
    for cond in spec.conditions:
        header += [f"{cond} {METRICS[m][0]}" for m in spec.metrics]
    groups = None
    if spec.group_condition:
        groups = _majority_minority(root / spec.group_train_utt2lang.format(**dirs))
        header += [f"{spec.group_condition} majority Acc %", f"{spec.group_condition} "
                   f"minority Acc %"]
    per_lang = []
    if spec.per_lang_condition:
        per_lang = sorted({lang for r in results.values()
                           for lang, e in r.get(spec.per_lang_condition, {})
                           .get("per_lang", {}).items() if e.get("count")})
        header += [f"{spec.per_lang_condition} {lang} Acc %" for lang in per_lang]
    if spec.train_log:
        header += ["final train loss"] + [f"mean {k} (whole run)" for k in spec.log_columns]
    lines = [f"### {spec.title}", ""]
    if not results:
        lines.append("Not run: none of its systems has score files "
                     f"({', '.join(spec.systems)}).")
        return "\n".join(lines) + "\n", results
    if spec.note:
        lines += [spec.note, ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for system in spec.systems:
        if system not in results:
            continue
        row = [spec.labels.get(system, system)]
        for cond in spec.conditions:
            r = results[system].get(cond)
            row += [METRICS[m][1](r) if r else "not run" for m in spec.metrics]
        if groups is not None:
            r = results[system].get(spec.group_condition)
            row += [_pct(_group_accuracy(r, g), 1) if r else "not run" for g in groups]
        if per_lang:
            r = results[system].get(spec.per_lang_condition)
            row += [_pct(_group_accuracy(r, [lang]), 1) if r else "not run"
                    for lang in per_lang]
        if spec.train_log:
            log_path = root / spec.train_log.format(system=system, **dirs)
            stats = {}
            if log_path.is_file():
                stats = {**final_train_stats(log_path, ["loss"]),
                         **final_train_stats(log_path, spec.log_columns, tail=1.0)}
            row += [_fix(stats.get(k), 4) if k in stats else "–"
                    for k in ["loss"] + spec.log_columns]
        lines.append("| " + " | ".join(row) + " |")
    if groups is not None:
        lines += ["", f"Majority languages (most training data): {', '.join(groups[0])}; "
                      f"minority: {', '.join(groups[1])}."]
    not_run = sorted({m.split('/')[0] for m in missing})
    if not_run:
        lines += ["", f"Configured but without score files (not run): {', '.join(not_run)}."]
    if spec.reference:
        lines += ["", compare_ordering(spec, results)]
    return "\n".join(lines) + "\n", results


def compare_ordering(spec: TableSpec, results: dict) -> str:
    """Pairwise ordering agreement with the reference numbers, per condition and metric."""
    out = [f"Ordering against {spec.reference_source or 'the reference'} "
           "(pairs of systems ranked the same way; Kendall's tau):"]
    for cond in spec.conditions:
        for metric in spec.metrics:
            lower = METRICS[metric][2]
            pairs = []
            for system in spec.systems:
                ref = spec.reference.get(system, {}).get(cond, {}).get(metric)
                ours = results.get(system, {}).get(cond)
                if ref is not None and ours is not None and _value(ours, metric) is not None:
                    pairs.append((system, float(ref), float(_value(ours, metric))))
            if len(pairs) < 2:
                continue
            agree = disagree = 0
            flipped = []
            for (a, ra, oa), (b, rb, ob) in itertools.combinations(pairs, 2):
                s = (ra - rb) * (oa - ob)
                if s > 0:
                    agree += 1
                elif s < 0:
                    disagree += 1
                    flipped.append(f"{spec.labels.get(a, a)} vs {spec.labels.get(b, b)}")
            total = agree + disagree
            tau = (agree - disagree) / total if total else float("nan")
            best = sorted(pairs, key=lambda p: p[2] if lower else -p[2])
            order = " < ".join(spec.labels.get(p[0], p[0]) for p in best) if lower else \
                " > ".join(spec.labels.get(p[0], p[0]) for p in best)
            out.append(f"- {cond} {METRICS[metric][0]}: {agree}/{total} pairs agree "
                       f"(tau {tau:+.2f}); ours {order}"
                       + (f"; reversed: {', '.join(flipped)}" if flipped else ""))
    return "\n".join(out)


def write_results(specs: list[TableSpec | ValuesTableSpec], root, out_path, *, header: str,
                  dirs: dict[str, str], footer: str = "") -> dict:
    """Render every table into `out_path` (atomically); returns all raw results.

    `dirs` names every directory placeholder the specs use; an unknown one is a ConfigError
    (raised before anything is written)."""
    from lidtool.fileio import write_text_atomic
    root = Path(root)
    for spec in specs:
        check_placeholders(spec, dirs)
    parts, everything = [header.rstrip() + "\n"], {}
    for spec in specs:
        build = build_values_table if isinstance(spec, ValuesTableSpec) else build_table
        text, results = build(spec, root, dirs)
        parts.append(text)
        everything[spec.title] = results
    if footer.strip():
        parts.append(footer.rstrip() + "\n")
    write_text_atomic(out_path, "\n".join(parts))
    return everything
