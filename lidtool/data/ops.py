"""Whole-directory operations: fix (Kaldi fix_data_dir.sh), combine, copy with id prefixes."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

from lidtool.data.datadir import (ALL_TABLES, RECO_TABLES, SPK_TABLES, UTT_TABLES, DataDir,
                                  load_tables, write_data_dir)
from lidtool.data.tables import Table, read_table
from lidtool.errors import DataDirError

log = logging.getLogger(__name__)


def _read_loose(path: Path) -> Table:
    """Read a table that may be unsorted or hold duplicates (fix keeps the first of each key)."""
    table = Table(path)
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            parts = raw.strip().split(maxsplit=1)
            if not parts or parts[0] in table:
                continue
            table[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
            table.lines[parts[0]] = lineno
    return table


def fix_data_dir(path) -> dict[str, int]:
    """Sort every table, drop duplicate keys, keep only utterances present in all the
    per-utterance tables (and with a recording), drop empty/zero-length ones, rebuild
    spk2utt / lang2utt. The originals are kept under `.backup/`. Returns drop counts."""
    d = Path(path)
    if not d.is_dir():
        raise DataDirError(d, "data directory does not exist")
    names = [n for n in ALL_TABLES if n not in ("spk2utt", "lang2utt")]
    tables = {n: _read_loose(d / n) for n in names if (d / n).is_file()}
    if "utt2spk" not in tables:
        raise DataDirError(d / "utt2spk", "file does not exist")
    utt_names = [n for n in tables if n in UTT_TABLES]
    keep = set(tables["utt2spk"])
    for n in utt_names:
        keep &= {k for k, v in tables[n].items() if v or n == "text"}
    for n in ("utt2dur", "utt2num_frames"):
        if n in tables:
            keep = {u for u in keep if _positive(tables[n].get(u))}
    if "segments" in tables:
        seg = tables["segments"]
        recos = set(tables.get("wav.scp", {}))
        keep = {u for u in keep if u in seg and (not recos or seg[u].split()[0] in recos)}
    elif "wav.scp" in tables:
        keep &= set(tables["wav.scp"])
    dropped = len(tables["utt2spk"]) - len(keep)
    backup = d / ".backup"
    backup.mkdir(exist_ok=True)
    for n in tables:
        shutil.copy2(d / n, backup / n)
    out = {}
    used_recos = {tables["segments"][u].split()[0] for u in keep} if "segments" in tables else None
    for n, t in tables.items():
        if n in RECO_TABLES and used_recos is not None:
            out[n] = {k: v for k, v in t.items() if k in used_recos}
        elif n in SPK_TABLES:
            spks = {tables["utt2spk"][u] for u in keep}
            out[n] = {k: v for k, v in t.items() if k in spks}
        else:
            out[n] = {k: v for k, v in t.items() if k in keep}
    for derived in ("spk2utt", "lang2utt"):
        (d / derived).unlink(missing_ok=True)
    write_data_dir(d, out)
    if dropped:
        log.warning("fix_data_dir %s: dropped %d of %d utterances", d, dropped,
                    len(tables["utt2spk"]))
    return {"kept": len(keep), "dropped": dropped}


def _positive(value) -> bool:
    try:
        return value is not None and float(value) > 0
    except ValueError:
        return False


def combine_data_dirs(dst, srcs) -> Path:
    """Kaldi combine_data.sh: union of the dirs' tables; an utterance id appearing twice is an
    error (ids must be unique across sources). Tables not present in every source are dropped,
    with a warning, so the result stays consistent."""
    dirs = [DataDir(s) for s in srcs]
    if not dirs:
        raise ValueError("nothing to combine")
    all_tables = [load_tables(d) for d in dirs]
    common = set(all_tables[0])
    for t in all_tables[1:]:
        common &= set(t)
    for d, t in zip(dirs, all_tables):
        for name in set(t) - common:
            log.warning("combine: %s/%s is not in every source; not combined", d.path, name)
    if "segments" in common and any("segments" not in t for t in all_tables):
        raise DataDirError(dst, "cannot combine dirs with and without segments")
    out: dict[str, dict] = {}
    for name in common:
        merged: dict[str, str] = {}
        for d, t in zip(dirs, all_tables):
            for k, v in t[name].items():
                if k in merged and name not in RECO_TABLES + SPK_TABLES:
                    raise t[name].error(k, f"id '{k}' also appears in another source dir")
                merged[k] = v
        out[name] = merged
    return write_data_dir(dst, out)


def copy_data_dir(src, dst, *, utt_prefix: str = "", spk_prefix: str = "") -> Path:
    """Kaldi copy_data_dir.sh with --utt-prefix / --spk-prefix (recordings get the utt prefix)."""
    d = DataDir(src)
    tables = load_tables(d)
    out: dict[str, dict] = {}
    for name, t in tables.items():
        key_prefix = spk_prefix if name in SPK_TABLES else utt_prefix
        new = {}
        for k, v in t.items():
            if name == "utt2spk":
                v = spk_prefix + v
            elif name == "segments":
                reco, rest = v.split(maxsplit=1)
                v = f"{utt_prefix}{reco} {rest}"
            new[key_prefix + k] = v
        out[name] = new
    return write_data_dir(dst, out)
