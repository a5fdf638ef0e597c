"""One JSON summary of a phone-recogniser run (stage 3): model sizes, alignment failures
per realignment pass, held-out scores, label statistics and the wall time of each step
(read from the `# Accounting: time=N` line that the job runners write to every log).

Layout read (what steps/run_phone_labels.sh writes): <exp>/asr/{mono,tri1,tri1/graph}
with history.json, num_pdfs, log/*.log; <exp>/asr/eval_*.json and log/*.log of the
held-out evaluation; the labels dir with ali.scp, ali_phone.scp, log/*.log.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from lidtool.asr.labels import label_stats
from lidtool.asr.model import AcousticModel
from lidtool.errors import DataDirError

_TIME = re.compile(r"^# Accounting: time=(\d+)", re.M)
_PARTIAL = re.compile(r"decoded (\d+) utterances, (\d+) frames, (\d+) of them")


def log_seconds(log_dir, pattern: str = "*.log") -> float | None:
    """Summed job times of the logs in log_dir (None if there are none)."""
    times = [int(m.group(1)) for p in sorted(Path(log_dir).glob(pattern))
             for m in _TIME.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    return float(sum(times)) if times else None


def _read_json(path):
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def model_summary(model_dir) -> dict:
    d = Path(model_dir)
    model = AcousticModel.load(d / "final.mdl")
    out = {"num_pdfs": model.num_pdfs, "num_gauss": model.gmm.total_gauss(),
           "topology": model.topology, "min_frames_per_phone": model.min_frames,
           "context_width": model.tree.context_width, "wall_s": log_seconds(d / "log")}
    hist = _read_json(d / "history.json")
    if hist:
        its = hist["iterations"]
        out["realign_failed"] = {str(h["iter"]): h["align_failed"] for h in its
                                 if h.get("realigned")}
        out["final_like_per_frame"] = its[-1]["like_after"]
    return out


def labels_summary(labels_dir) -> dict:
    d = Path(labels_dir)
    if not (d / "ali.scp").is_file():
        raise DataDirError(d, "has no ali.scp")
    num_pdfs = int((d / "num_pdfs").read_text().split()[0]) if (d / "num_pdfs").is_file() \
        else None
    out = {"pdf_labels": label_stats(d / "ali.scp", num_pdfs),
           "wall_s": log_seconds(d / "log")}
    if (d / "ali_phone.scp").is_file():
        out["phone_labels"] = label_stats(d / "ali_phone.scp")
    partial = _partial(sorted((d / "log").glob("decode.*.log")))
    if partial is not None:
        out["utts_not_reaching_final"] = partial
    return out


def _partial(logs) -> int | None:
    """Utterances whose phone-loop decoding ended in a partial path (from the logs)."""
    n = [int(m.group(3)) for p in logs
         for m in _PARTIAL.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    return sum(n) if n else None


def summarize(asr_dir, labels_dir=None) -> dict:
    a = Path(asr_dir)
    out: dict = {}
    for name in ("mono", "tri1"):
        if (a / name / "final.mdl").is_file():
            out[name] = model_summary(a / name)
    if (a / "tri1" / "graph" / "HCLG.fst").is_file():
        out["graph"] = {"wall_s": log_seconds(a / "tri1" / "graph" / "log")}
    dev = {k: _read_json(a / f"eval_{k}_dev.json") for k in ("align", "phone_loop")}
    dev = {k: v for k, v in dev.items() if v is not None}
    if dev:
        dev["wall_s"] = {p.stem: log_seconds(p.parent, p.name)
                         for p in sorted((a / "log").glob("*dev*.log"))}
        partial = _partial([a / "log" / "decode_dev.log"] if (a / "log" / "decode_dev.log")
                           .is_file() else [])
        if partial is not None:
            dev["phone_loop_utts_not_reaching_final"] = partial
        out["held_out"] = dev
    if labels_dir is not None:
        out["labels"] = labels_summary(labels_dir)
    return out
