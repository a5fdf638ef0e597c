"""Plot one table of a make-results JSON as a PNG: a metric over the table's systems.

    lidtool plot-results --json exp/results/results.json --table "Figure 4: ..." \
        --metric accuracy --xlabel "blocks kept" --out figure4.png

The x axis is the table's systems in the order the results YAML lists them (numeric names
such as "1", "2", "4" are placed at their value), one line per test condition; systems
without score files are not in the JSON and so not on the plot. Accuracy and EER are
drawn in percent.
"""
from __future__ import annotations

import json
from pathlib import Path

from lidtool.errors import InputError

PERCENT = ("accuracy", "eer")


def add_arguments(p):
    p.add_argument("--json", required=True, help="results.json of lidtool make-results --json")
    p.add_argument("--table", required=True, help="the table's title in the results YAML")
    p.add_argument("--metric", default="accuracy",
                   help="accuracy, eer, cavg, min_cavg (default: accuracy)")
    p.add_argument("--xlabel", default="system")
    p.add_argument("--out", required=True, help="output PNG")


def table_series(results: dict, table: str, metric: str, where: str
                 ) -> tuple[list[str], dict[str, list]]:
    """(systems, {condition: [value per system]}) of one table of make-results' JSON."""
    if table not in results:
        raise InputError(where, f"no table titled '{table}'",
                         fix="titles: " + "; ".join(results))
    rows = results[table]
    if not rows:
        raise InputError(where, f"table '{table}' has no system with score files",
                         fix="run the systems (stages 5-6) before plotting")
    systems = list(rows)
    conditions = list(dict.fromkeys(c for s in systems for c in rows[s]))
    scale = 100.0 if metric in PERCENT else 1.0
    series = {}
    for cond in conditions:
        values = []
        for s in systems:
            r = rows[s].get(cond)
            if r is not None and metric not in r:
                raise InputError(where, f"table '{table}' has no metric '{metric}'",
                                 fix="metrics: " + ", ".join(sorted(r)))
            values.append(None if r is None or r[metric] is None else scale * r[metric])
        series[cond] = values
    return systems, series


def main(args):
    from lidtool.metrics.plot import write_curve_png
    path = Path(args.json)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "does not exist", fix="run lidtool make-results --json") from None
    except json.JSONDecodeError as err:
        raise InputError(path, f"not JSON: {err}", line=err.lineno) from None
    systems, series = table_series(results, args.table, args.metric, str(path))
    ylabel = f"{args.metric} %" if args.metric in PERCENT else args.metric
    write_curve_png(args.out, systems, series, xlabel=args.xlabel, ylabel=ylabel,
                    title=args.table)
    print(f"wrote {args.out}: {len(systems)} systems, {len(series)} conditions")


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
