#!/usr/bin/env python3
"""Stage 9 of egs/synth_sv: RESULTS markdown and figures from the scoring stage's outputs.

Reads <exp>/<system>/<condition>/sv_<backend>/metrics.json (lidtool score-trials),
<exp>/grid_P<p>_D<d>/xvector_cosface_dropclass/... (the DropClass grid) and
<exp>/adapt_<condition>/<system>/... with its dropadapt_rounds.json, and writes
  Table 1  EER / minDCF(0.01) per head, without and with DropClass, both conditions;
  Table 2  DropAdapt variants and controls per condition, EER and relative improvement over
           the un-adapted CosFace baseline;
  figures  <exp>/figures/eer_vs_P.png, eer_vs_D.png, dropadapt_kl.png (KL per round, every
           variant) and dropadapt_eer.png (EER of dropadapt_drop's checkpoint of each round,
           <exp>/adapt_<condition>/dropadapt_drop/rounds/step<N>; step 0 = the baseline).
A missing metrics file is a '-' cell (a stage not run yet), never an error.

usage: local/make_results.py --exp EXP --data DATA --heads 'softmax ..' --adapt 'a b'
                             [--backend cosine] [--command CMD] RESULTS.md
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from lidtool.fileio import write_text_atomic
from lidtool.metrics.plot import write_lines_png

CONDS = ("test_sv", "test_sv_channel")
HEAD_NAMES = {"softmax": "Softmax", "cosface": "CosFace (AM)", "sphereface": "SphereFace",
              "arcface": "ArcFace (AAM)", "adacos": "AdaCos"}


def metrics(sys_dir: Path, cond: str, backend: str) -> dict | None:
    path = sys_dir / cond / f"sv_{backend}" / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def pct(m: dict | None, key: str = "eer") -> str:
    if m is None:
        return "-"
    return f"{100 * m['eer']:.2f}" if key == "eer" else f"{m['min_dcf']['0.01']:.3f}"


def grid_points(exp: Path) -> dict[tuple[int, int], Path]:
    points = {}
    for d in exp.glob("grid_P*_D*"):
        p, dd = map(int, re.fullmatch(r"grid_P(\d+)_D(\d+)", d.name).groups())
        points[(p, dd)] = d / "xvector_cosface_dropclass"
    return points


def dropclass_setting(exp: Path) -> tuple[int, int]:
    import yaml
    cfg = yaml.safe_load((exp / "xvector_cosface_dropclass" / "config.yaml").read_text())
    return int(cfg["dropclass"]["period"]), int(cfg["dropclass"]["drop"])


def table1(exp: Path, heads: list[str], backend: str) -> list[str]:
    rows = ["| head | " + " | ".join(f"{c} EER % | {c} +DropClass | minDCF0.01 | +DropClass"
                                     for c in CONDS) + " |",
            "|---|" + "---:|" * 4 * len(CONDS)]
    for h in heads:
        cells = []
        for c in CONDS:
            base = metrics(exp / f"xvector_{h}", c, backend)
            drop = metrics(exp / f"xvector_{h}_dropclass", c, backend)
            cells += [pct(base), pct(drop), pct(base, "dcf"), pct(drop, "dcf")]
        rows.append(f"| {HEAD_NAMES.get(h, h)} | " + " | ".join(cells) + " |")
    return rows


def table2(exp: Path, adapt: list[str], backend: str) -> list[str]:
    rows = ["| system | " + " | ".join(f"{c} EER % | rel. impr. % | minDCF0.01"
                                     for c in CONDS) + " |", "|---|" + "---:|" * 3 * len(CONDS)]
    base = {c: metrics(exp / "xvector_cosface", c, backend) for c in CONDS}
    rows.append("| CosFace baseline (not adapted) | " + " | ".join(
        f"{pct(base[c])} | - | {pct(base[c], 'dcf')}" for c in CONDS) + " |")
    for sys in adapt:
        cells = []
        for c in CONDS:
            m = metrics(exp / f"adapt_{c}" / sys, c, backend)
            rel = "-" if m is None or base[c] is None or base[c]["eer"] == 0 else \
                f"{100 * (base[c]['eer'] - m['eer']) / base[c]['eer']:+.1f}"
            cells += [pct(m), rel, pct(m, "dcf")]
        rows.append(f"| {sys} | " + " | ".join(cells) + " |")
    return rows


def figures(exp: Path, adapt: list[str], backend: str) -> list[str]:
    out, fig_dir = [], exp / "figures"
    points = grid_points(exp)
    if (exp / "xvector_cosface_dropclass" / "config.yaml").is_file():
        points[dropclass_setting(exp)] = exp / "xvector_cosface_dropclass"
    p0, d0 = dropclass_setting(exp) if points else (0, 0)
    for name, fixed, axis in (("eer_vs_P", d0, 0), ("eer_vs_D", p0, 1)):
        sel = sorted((k, v) for k, v in points.items() if k[1 - axis] == fixed)
        series = {}
        for c in CONDS:
            xy = [(k[axis], metrics(v, c, backend)) for k, v in sel]
            xy = [(x, 100 * m["eer"]) for x, m in xy if m is not None]
            if xy:
                series[c] = ([x for x, _ in xy], [y for _, y in xy])
        if series:
            label = "P (steps)" if axis == 0 else "D (classes dropped)"
            other = f"D = {fixed}" if axis == 0 else f"P = {fixed}"
            write_lines_png(fig_dir / f"{name}.png", series, label, "EER %",
                            f"CosFace + DropClass, {other}")
            out.append(f"![{name}]({fig_dir}/{name}.png)")
    series = {}
    for c in CONDS:
        for sys in adapt:
            path = exp / f"adapt_{c}" / sys / "dropadapt_rounds.json"
            if path.is_file():
                rounds = json.loads(path.read_text())["rounds"]
                series[f"{sys} ({c})"] = ([r["round"] for r in rounds],
                                          [r["kl_uniform"] for r in rounds])
    if series:
        write_lines_png(fig_dir / "dropadapt_kl.png", series, "DropAdapt round",
                        "KL(p_average || U)", "DropAdapt: KL to uniform per round")
        out.append(f"![dropadapt_kl]({fig_dir}/dropadapt_kl.png)")
    series = {}
    for c in CONDS:
        base = metrics(exp / "xvector_cosface", c, backend)
        xy = [(0, base)] + [(int(d.name[4:]), metrics(d, c, backend))
                            for d in (exp / f"adapt_{c}" / "dropadapt_drop" / "rounds").glob(
                                "step*")]
        xy = sorted((x, 100 * m["eer"]) for x, m in xy if m is not None)
        if len(xy) > 1:
            series[c] = ([x for x, _ in xy], [y for _, y in xy])
    if series:
        write_lines_png(fig_dir / "dropadapt_eer.png", series, "adaptation step",
                        "EER %", "DropAdapt (drop): EER at each round's checkpoint")
        out.append(f"![dropadapt_eer]({fig_dir}/dropadapt_eer.png)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exp", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--heads", required=True)
    p.add_argument("--adapt", required=True)
    p.add_argument("--backend", default="cosine")
    p.add_argument("--command", default="./run.sh")
    p.add_argument("results")
    args = p.parse_args()
    exp, data = Path(args.exp), Path(args.data)
    sizes = []
    for s in ("train_sv",) + CONDS:
        u2s = data / s / "utt2spk"
        if u2s.is_file():
            lines = u2s.read_text().splitlines()
            n_trials = len((data / s / "trials").read_text().splitlines()) \
                if (data / s / "trials").is_file() else 0
            sizes.append(f"{s}: {len({l.split()[1] for l in lines})} speakers, "
                         f"{len(lines)} utterances" + (f", {n_trials} trials" if n_trials else ""))
    text = [f"# egs/synth_sv results ({args.backend} scoring)", "",
            "Produced by stage 9 of:", "", f"    {args.command}", "",
            "Sizes: " + "; ".join(sizes) + ".", "",
            "## Table 1: EER (%) and minDCF (p_target 0.01) without and with DropClass", ""]
    text += table1(exp, args.heads.split(), args.backend)
    text += ["", "## Table 2: DropAdapt from the CosFace baseline, per test condition "
             "(adapted to that condition's unlabelled utterances)", ""]
    text += table2(exp, args.adapt.split(), args.backend)
    figs = figures(exp, args.adapt.split(), args.backend)
    if figs:
        text += ["", "## Figures", ""] + figs
    write_text_atomic(args.results, "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
