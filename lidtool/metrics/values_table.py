"""RESULTS.md tables of single measurements that a stage wrote into a JSON file.

Some results are not score files: the phone recogniser's held-out frame accuracy and phone
error rate, for instance, are measured by stage 3 into exp/asr/summary.json. A values table
names the file and, per row, a dotted key into it; the scoring stage copies the value into
markdown. A missing file or key shows as "not run", never as a number.

    - title: "Phone recogniser (stage 3), held-out asr_cmn_dev speakers"
      file: "{exp}/asr/summary.json"
      rows:
        - [forced-alignment frame accuracy %, held_out.align.frame_accuracy, pct]
        - [phone-loop PER %, held_out.phone_loop.per, pct]
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lidtool.errors import ConfigError

FORMATS = {
    "pct": lambda x: f"{100 * x:.1f}",
    "fix2": lambda x: f"{x:.2f}",
    "fix4": lambda x: f"{x:.4f}",
    "int": lambda x: f"{int(x)}",
}


def check_keys(cls, d: dict, source: str, required: tuple, what: str) -> None:
    """A table entry of results.yaml has only `cls`'s fields and all of `required`."""
    known = set(cls.__dataclass_fields__) - {"source"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(source, f"unknown {what} keys {unknown} (known: {sorted(known)})")
    for key in required:
        if key not in d:
            raise ConfigError(source, f"{what} needs '{key}'")


@dataclass
class ValuesTableSpec:
    title: str
    file: str
    rows: list
    note: str = ""
    headers: list = field(default_factory=lambda: ["Measurement", "Value"])
    # the results YAML this table came from (named by errors); not a YAML key
    source: str = field(default="", compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict, source: str) -> "ValuesTableSpec":
        check_keys(cls, d, source, ("title", "file", "rows"), "values table")
        for row in d["rows"]:
            if not (isinstance(row, list) and len(row) == 3 and row[2] in FORMATS):
                raise ConfigError(source, f"values-table row {row!r} must be "
                                          f"[label, dotted.key, format in {sorted(FORMATS)}]")
        return cls(**d, source=source)

    def paths(self) -> list[str]:
        return [self.file]


def _lookup(doc, dotted: str):
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc if isinstance(doc, (int, float)) and not isinstance(doc, bool) else None


def build_values_table(spec: ValuesTableSpec, root: Path, dirs: dict[str, str]
                       ) -> tuple[str, dict]:
    """Markdown for the table and the raw values {label: value or None}."""
    path = Path(root) / spec.file.format(**dirs)
    doc = json.loads(path.read_text()) if path.is_file() else None
    values = {label: (_lookup(doc, key) if doc is not None else None)
              for label, key, _ in spec.rows}
    lines = [f"### {spec.title}", ""]
    if spec.note:
        lines += [spec.note, ""]
    lines += [f"Source: `{spec.file.format(**dirs)}`", "",
              "| " + " | ".join(spec.headers) + " |", "|---|---:|"]
    for label, _, fmt in spec.rows:
        v = values[label]
        lines.append(f"| {label} | {FORMATS[fmt](v) if v is not None else 'not run'} |")
    return "\n".join(lines) + "\n", values
