#!/usr/bin/env python3
"""Stage 9 of egs/synth_sv: RESULTS markdown and figures from the scoring stage's outputs.

Reads <exp>/<system>/<condition>/sv_<backend>/metrics.json (lidtool score-trials),
<exp>/grid_P<p>_D<d>/xvector_cosface_dropclass/... (the DropClass grid) and
<exp>/adapt_<condition>/<system>/... with its dropadapt_rounds.json, and writes
  Table 1  EER / minDCF(0.01) per head, without and with DropClass, both conditions;
  Table 2  DropAdapt variants and controls per condition, EER and relative improvement over
           the un-adapted CosFace baseline;
  figures  <fig-dir>/eer_vs_P.png (default <exp>/figures), eer_vs_D.png, dropadapt_kl.png (KL per round, every
           variant) and dropadapt_eer.png (EER of dropadapt_drop's checkpoint of each round,
           <exp>/adapt_<condition>/dropadapt_drop/rounds/step<N>; step 0 = the baseline).
With --lid-exp/--lid-data (run.sh --lid true, stage 10) also
  Table 3  language ID: accuracy and minCavg on <lid-data>/test_lid of the LID x-vector
           (<lid-exp>/lid_xvector), its DropAdapt (drop) and baseline-more-steps
           (<lid-exp>/adapt/<system>), from each system's test_lid/scores, over all the
           training languages and over the adapted model's kept languages.
A missing metrics file is a '-' cell (a stage not run yet), never an error.

usage: local/make_results.py --exp EXP --data DATA --heads 'softmax ..' --adapt 'a b'
                             [--backend cosine] [--lid-exp DIR --lid-data DIR]
                             [--command CMD] RESULTS.md
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


def figures(exp: Path, adapt: list[str], backend: str, fig_dir: Path) -> list[str]:
    out = []
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


LID_SYSTEMS = (("LID x-vector (not adapted)", "lid_xvector"),
               ("DropAdapt (drop)", "adapt/lid_dropadapt_drop"),
               ("baseline-more-steps", "adapt/lid_baseline_more_steps"))


def lid_metrics(sys_dir: Path, utt2lang: Path, langs: list[str] | None) -> dict | None:
    from lidtool.metrics.report import score_files
    scores = sys_dir / "test_lid" / "scores"
    return score_files(scores, utt2lang, langs) if scores.is_file() else None


def kept_languages(sys_dir: Path) -> list[str] | None:
    """The languages whose data the last DropAdapt round kept (None: not a DropAdapt run)."""
    path = sys_dir / "dropadapt_rounds.json"
    return json.loads(path.read_text())["rounds"][-1]["kept"] if path.is_file() else None


def table3(lid_exp: Path, lid_data: Path) -> list[str]:
    utt2lang = lid_data / "test_lid" / "utt2lang"
    test_langs = sorted({l.split()[1] for l in utt2lang.read_text().splitlines()}) \
        if utt2lang.is_file() else []
    adapted = lid_exp / "adapt" / "lid_dropadapt_drop"
    kept = kept_languages(adapted)
    text = ["", "## Table 3 (beyond the paper): DropAdapt for language ID", "",
            f"An LID x-vector trained on every language of train_lid, adapted by DropAdapt "
            f"(drop) to the unlabelled utterances of test_lid ({', '.join(test_langs)}: "
            "unseen speakers, a subset of the training languages), and the "
            "baseline-more-steps control. 'all' = accuracy and minCavg with every training "
            "language a target (the model's full softmax; Cavg's P_miss terms of languages "
            "absent from test_lid are skipped, false alarms against them count); 'kept' = "
            "the scores restricted to the languages DropAdapt kept "
            f"({', '.join(kept) if kept else '-'}), the same for every row: accuracy over the "
            "test utterances of those languages, and in minCavg the utterances of a test "
            "language DropAdapt dropped are non-target trials only (open set).", "",
            "| system | accuracy % (all) | minCavg (all) | accuracy % (kept) | minCavg (kept) |",
            "|---|---:|---:|---:|---:|"]
    for name, sub in LID_SYSTEMS:
        cells = []
        for restrict in (False, True):
            m = None
            if utt2lang.is_file() and (kept or not restrict):
                m = lid_metrics(lid_exp / sub, utt2lang, kept if restrict else None)
            cells += ["-", "-"] if m is None or m["accuracy"] is None else \
                [f"{100 * m['accuracy']:.2f}", f"{m['min_cavg']:.4f}"]
        text.append(f"| {name} | " + " | ".join(cells) + " |")
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exp", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--heads", required=True)
    p.add_argument("--adapt", required=True)
    p.add_argument("--backend", default="cosine")
    p.add_argument("--lid-exp", help="exp dir of the LID part (run.sh --lid true)")
    p.add_argument("--lid-data", help="data dir of the LID part")
    p.add_argument("--command", default="./run.sh",
                   help="the invocations that made the run, one per line")
    p.add_argument("--fig-dir", help="where the figures go, relative to the RESULTS file's "
                   "directory as the markdown links them (default <exp>/figures)")
    p.add_argument("--epilogue", help="hand-written text appended after the tables and "
                   "figures (the reading of the recorded run)")
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
    commands = [c for c in args.command.splitlines() if c.strip()]
    text = [f"# egs/synth_sv results ({args.backend} scoring)", "",
            "Produced by stage 9 of (the invocations on this exp dir, in order):", "",
            *[f"    {c}" for c in commands], "",
            "Sizes: " + "; ".join(sizes) + ".", "",
            "## Table 1: EER (%) and minDCF (p_target 0.01) without and with DropClass", ""]
    text += table1(exp, args.heads.split(), args.backend)
    text += ["", "## Table 2: DropAdapt from the CosFace baseline, per test condition "
             "(adapted to that condition's unlabelled utterances)", ""]
    text += table2(exp, args.adapt.split(), args.backend)
    if args.lid_exp:
        text += table3(Path(args.lid_exp), Path(args.lid_data or f"{data}/langid"))
    figs = figures(exp, args.adapt.split(), args.backend,
                   Path(args.fig_dir) if args.fig_dir else exp / "figures")
    if figs:
        text += ["", "## Figures", ""] + figs
    if args.epilogue:
        text += ["", Path(args.epilogue).read_text().rstrip("\n")]
    write_text_atomic(args.results, "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
