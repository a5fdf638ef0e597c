"""Speed and volume perturbation of a Kaldi data dir, as Kaldi's utils/ scripts do it.

Speed (utils/perturb_data_dir_speed.sh): factor f gives utterances `sp<f>-<utt>`, speakers
`sp<f>-<spk>` (so perturbed copies of a speaker form a speaker of their own), recordings
`sp<f>-<reco>` read through `sox ... speed <f>` in the wav.scp pipe; segment times, utt2dur and
reco2dur are divided by f; utt2lang / text / spk2gender are copied; utt2uniq maps every new
utterance to its source. Features, VAD and anything frame-based are not carried over (the
frames change), so run feature extraction on the new dir. Several factors give one combined
dir; factor 1.0 keeps the original ids (Kaldi's perturb_data_dir_speed_3way.sh).

Volume (utils/data/perturb_data_dir_volume.sh): in place, each recording gets a random gain
in [scale_low, scale_high] applied by `sox --vol <g>` in its wav.scp entry (recorded in
reco2vol); a dir already volume-perturbed is left alone.
"""
from __future__ import annotations

import logging
import re
import shlex
import shutil
from pathlib import Path

import numpy as np

from lidtool.data.datadir import DataDir, validate_data_dir, write_data_dir
from lidtool.data.tables import read_table, write_table
from lidtool.errors import DataDirError

# a volume-perturbed entry (written with or without sox's -R)
_VOL_RE = re.compile(r"\bsox (-R )?--vol ")

log = logging.getLogger(__name__)

# Tables tied to the frames or samples of the original audio: not valid after perturbation.
DROPPED = ("feats.scp", "vad.scp", "utt2num_frames", "ali.scp", "cmvn.scp")
# Per-utterance tables copied under the new ids.
COPIED = ("utt2lang", "text")


def speed_prefix(factor: float) -> str:
    return f"sp{factor:g}-"


def _sox_pipe(spec: str, effect: str, global_opts: str = "") -> str:
    """A wav.scp value that applies sox `effect` to the audio of wav.scp value `spec`."""
    spec = spec.strip()
    # -R: sox seeds its dither with a fixed number, so the same entry gives the same samples
    # every time it is read (without it every read of a perturbed copy differed).
    opts = f"-R {global_opts} " if global_opts else "-R "
    if spec.endswith("|"):
        return f"{spec} sox {opts}-t wav - -t wav - {effect} |"
    return f"sox {opts}{shlex.quote(spec)} -t wav - {effect} |"


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _speed_tables(d: DataDir, factor: float) -> dict[str, dict[str, str]]:
    """The tables of `d` perturbed by `factor` (1.0: unchanged ids and audio)."""
    prefix = "" if factor == 1.0 else speed_prefix(factor)
    u = {utt: prefix + utt for utt in d.utts}
    out: dict[str, dict[str, str]] = {}
    out["utt2spk"] = {u[k]: prefix + v for k, v in d.utt2spk.items()}
    for name in COPIED:
        table = d.table(name)
        if table is not None:
            out[name] = {u[k]: v for k, v in table.items()}
    old_uniq = _optional(d, "utt2uniq")
    out["utt2uniq"] = {u[k]: (old_uniq.get(k, k) if old_uniq else k) for k in d.utts}
    spk2gender = _optional(d, "spk2gender")
    if spk2gender is not None:
        out["spk2gender"] = {prefix + k: v for k, v in spk2gender.items()}
    if factor == 1.0:  # the originals, unchanged
        for name in ("segments", "wav.scp", "utt2dur", "reco2dur"):
            if d.table(name) is not None:
                out[name] = dict(d.table(name))
        return out
    effect = f"speed {factor:g}"
    if d.segments is not None:
        segs, durs = {}, {}
        for utt, value in d.segments.items():
            reco, start, end = value.split()
            start, end = float(start) / factor, float(end)
            if end < 0:  # -1: to the end of the recording
                segs[u[utt]] = f"{prefix}{reco} {_fmt(start)} -1"
            else:
                end /= factor
                segs[u[utt]] = f"{prefix}{reco} {_fmt(start)} {_fmt(end)}"
                durs[u[utt]] = _fmt(float(_fmt(end)) - float(_fmt(start)))
        out["segments"] = segs
        out["wav.scp"] = {prefix + reco: _sox_pipe(v, effect) for reco, v in d.wav_scp.items()}
        if d.reco2dur is not None:
            out["reco2dur"] = {prefix + k: _fmt(float(v) / factor)
                               for k, v in d.reco2dur.items()}
        if len(durs) == len(segs):
            out["utt2dur"] = durs
        elif d.utt2dur is not None:
            out["utt2dur"] = {u[k]: _fmt(float(v) / factor) for k, v in d.utt2dur.items()}
    else:
        out["wav.scp"] = {u[k]: _sox_pipe(v, effect) for k, v in d.wav_scp.items()}
        if d.utt2dur is not None:
            out["utt2dur"] = {u[k]: _fmt(float(v) / factor) for k, v in d.utt2dur.items()}
    return out


def _optional(d: DataDir, name: str):
    p = d.path / name
    return read_table(p) if p.is_file() else None


def _merge(parts: list[dict[str, dict[str, str]]], src: Path) -> dict[str, dict[str, str]]:
    names = set(parts[0])
    for p in parts[1:]:
        names &= set(p)
    merged: dict[str, dict[str, str]] = {}
    for name in sorted(names):
        table: dict[str, str] = {}
        for p in parts:
            for k, v in p[name].items():
                if k in table:
                    raise DataDirError(src / name, f"key '{k}' would appear twice in the "
                                       "combined perturbed dir",
                                       fix="the source already holds perturbed ids; perturb "
                                       "the original dir instead")
                table[k] = v
        merged[name] = table
    return merged


def _write_dir(tables: dict[str, dict[str, str]], dst: Path, src: Path) -> Path:
    """Write into a sibling temp dir, validate, then move it onto `dst`."""
    dst = Path(dst)
    if dst.resolve() == Path(src).resolve():
        raise DataDirError(dst, "destination is the source dir", fix="name a new dir")
    if dst.exists() and any(dst.iterdir()) and not (dst / "utt2spk").is_file():
        raise DataDirError(dst, "exists and is not a data dir; refusing to replace it")
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        extra = {k: tables.pop(k) for k in ("utt2uniq", "spk2gender") if k in tables}
        write_data_dir(tmp, tables)
        for name, mapping in extra.items():
            write_table(tmp / name, mapping)
        validate_data_dir(tmp)
        if dst.exists():
            shutil.rmtree(dst)
        tmp.rename(dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


def speed_perturb_data_dir(src, dst, factors=(0.9,)) -> Path:
    """Write `dst` holding `src` perturbed by each speed factor (combined when several;
    factor 1.0 = the original utterances under their own ids). Returns `dst`."""
    factors = [float(f) for f in (factors if isinstance(factors, (list, tuple)) else [factors])]
    if not factors or any(not 0.5 <= f <= 2.0 for f in factors):
        raise ValueError(f"speed factors must lie in [0.5, 2.0], got {factors}")
    if len(set(factors)) != len(factors):
        raise ValueError(f"repeated speed factor in {factors}")
    d = validate_data_dir(src)
    dropped = [n for n in DROPPED if (d.path / n).is_file()]
    if dropped:
        log.info("%s: not carrying over %s (frame-based; recompute on the perturbed dir)",
                 d.path, ", ".join(dropped))
    parts = [_speed_tables(d, f) for f in factors]
    tables = parts[0] if len(parts) == 1 else _merge(parts, d.path)
    out = _write_dir(tables, Path(dst), d.path)
    log.info("wrote %s: %d utterances (speed %s)", out, sum(len(p["utt2spk"]) for p in parts),
             ",".join(f"{f:g}" for f in factors))
    return out


def volume_perturb_data_dir(path, scale_low: float = 0.125, scale_high: float = 2.0,
                            seed: int = 0) -> bool:
    """Add a random `sox --vol` gain per recording to `path`/wav.scp, in place.

    Returns False (and changes nothing) when the dir is already volume-perturbed."""
    if not 0 < scale_low <= scale_high:
        raise ValueError(f"need 0 < scale_low <= scale_high, got {scale_low}, {scale_high}")
    d = validate_data_dir(path)
    wav = d.wav_scp
    if any(_VOL_RE.search(v) for v in wav.values()):
        log.warning("%s is already volume-perturbed (wav.scp has 'sox --vol'); leaving it",
                    d.file("wav.scp"))
        return False
    rng = np.random.default_rng(seed)
    gains = {reco: float(rng.uniform(scale_low, scale_high)) for reco in wav}
    new = {}
    for reco, spec in wav.items():
        spec = spec.strip()
        g = f"{gains[reco]:.6f}"
        if spec.endswith("|"):
            new[reco] = f"{spec} sox -R --vol {g} -t wav - -t wav - |"
        else:
            new[reco] = f"sox -R --vol {g} {shlex.quote(spec)} -t wav - |"
    write_table(d.file("reco2vol"), {k: f"{v:.6f}" for k, v in gains.items()})
    write_table(d.file("wav.scp"), new)
    stale = [n for n in DROPPED if d.has(n)]
    if stale:
        log.warning("%s: %s were computed before volume perturbation; recompute them",
                    d.path, ", ".join(stale))
    return True
