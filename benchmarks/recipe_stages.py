"""Wall time per stage of a recipe run, from its terminal log (the `log` lines of run.sh /
lid.sh: `<date> <time> (<script>:<line>:main) stage N: ...`).

    .venv/bin/python benchmarks/recipe_stages.py egs/synth_lid/run.log [more logs]

A stage lasts from its first line to the next stage line (or the log's last timestamp);
recipes that call the template several times (one call per experiment) run a stage number
more than once, and its times are added up. Prints a table: stage, seconds, share.
"""
from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime

STAGE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\S* \([^)]*\) stage (\d+):")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def stage_seconds(lines: list[str]) -> dict[int, float]:
    marks, last = [], None
    for line in lines:
        m = STAMP.match(line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
        last = t
        s = STAGE.match(line)
        if s and (not marks or marks[-1][1] != int(s.group(2))):
            marks.append((t, int(s.group(2))))
    out: dict[int, float] = {}
    for (t, stage), nxt in zip(marks, marks[1:] + [(last, None)]):
        out[stage] = out.get(stage, 0.0) + (nxt[0] - t).total_seconds()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logs", nargs="+")
    args = p.parse_args(argv)
    for path in args.logs:
        with open(path, encoding="utf-8", errors="replace") as f:
            times = stage_seconds(f.read().splitlines())
        total = sum(times.values()) or 1.0
        print(f"{path}: {total:.0f} s")
        print("| stage | seconds | share |\n|---|---|---|")
        for stage in sorted(times):
            print(f"| {stage} | {times[stage]:.0f} | {100 * times[stage] / total:.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
