"""Kaldi data directories: load on demand, validate, iterate audio, split.

A data dir holds sorted text tables keyed by utterance (wav.scp by recording when a
`segments` file is present). `utt2lang` is to LID what `utt2spk` is to speaker work, and
both are understood everywhere (spk2utt / lang2utt are derived).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np

from lidtool.data.audio import cut_segment, decode_audio, read_audio
from lidtool.data.tables import Table, invert, read_table, write_table
from lidtool.errors import DataDirError

# table name -> whether values must be numbers
UTT_TABLES = ("utt2spk", "utt2lang", "utt2dur", "utt2num_frames", "feats.scp", "vad.scp",
              "text", "ali.scp", "utt2uniq")
# keyed by recording (wav.scp's key when there is a segments file) and by speaker
RECO_TABLES = ("wav.scp", "reco2dur", "reco2vol")
SPK_TABLES = ("spk2gender",)
NUMERIC_TABLES = ("utt2dur", "utt2num_frames", "reco2dur")
ALL_TABLES = ("segments", "spk2utt", "lang2utt") + RECO_TABLES + SPK_TABLES + UTT_TABLES


def _attr(name: str) -> str:
    return name.replace(".", "_")


class DataDir:
    """Lazy view of a Kaldi data dir: `d.utt2lang` is a Table, or None if the file is absent."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataDirError(self.path, "data directory does not exist")
        self._cache: dict[str, Table | None] = {}

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def table(self, name: str) -> Table | None:
        if name not in self._cache:
            p = self.path / name
            self._cache[name] = read_table(p, allow_empty_value=(name == "text")) \
                if p.is_file() else None
        return self._cache[name]

    def __getattr__(self, attr: str):
        for name in ALL_TABLES:
            if _attr(name) == attr:
                return self.table(name)
        raise AttributeError(attr)

    @property
    def utts(self) -> list[str]:
        """Utterance ids: the keys of utt2spk (Kaldi's reference), else of segments/wav.scp."""
        for name in ("utt2spk", "utt2lang", "segments", "wav.scp", "feats.scp"):
            t = self.table(name)
            if t is not None:
                return list(t.keys())
        raise DataDirError(self.path, "has none of utt2spk, utt2lang, segments, wav.scp, "
                           "feats.scp")

    def numeric(self, name: str, key: str) -> float:
        t = self.table(name)
        try:
            return float(t[key])
        except ValueError:
            raise t.error(key, f"value '{t[key]}' is not a number") from None

    def __repr__(self) -> str:
        return f"DataDir({str(self.path)!r})"


def validate_data_dir(path, *, need_feats: bool = False, need_lang: bool = False,
                      need_wav: bool | None = None, need_text: bool = False) -> DataDir:
    """Check a data dir as Kaldi's validate_data_dir.sh does, plus utt2lang / lang2utt.

    Raises DataDirError naming the file, the line and the fix for the first problem found.
    """
    d = DataDir(path)
    fix = f"utils/fix_data_dir.sh {d.path}"
    # Reading each table checks it is sorted, unique and has no empty lines.
    for name in ALL_TABLES:
        d.table(name)
    if d.utt2spk is None:
        raise DataDirError(d.file("utt2spk"), "file does not exist",
                           fix="every data dir needs utt2spk (map utts to themselves if "
                               "there are no speakers)")
    utts = set(d.utt2spk)
    if need_wav is None:
        need_wav = not need_feats
    if need_wav and d.wav_scp is None:
        raise DataDirError(d.file("wav.scp"), "file does not exist")
    if need_feats and d.feats_scp is None:
        raise DataDirError(d.file("feats.scp"), "file does not exist",
                           fix="run steps/make_feats.sh")
    if need_lang and d.utt2lang is None:
        raise DataDirError(d.file("utt2lang"), "file does not exist")
    if need_text and d.text is None:
        raise DataDirError(d.file("text"), "file does not exist")

    for name, table in (("utt2spk", d.utt2spk),):
        for key, value in table.items():
            if len(value.split()) != 1:
                raise table.error(key, f"expected '<utt> <spk>', got '{key} {value}'")

    _check_inverse(d, "utt2spk", "spk2utt", fix)
    _check_inverse(d, "utt2lang", "lang2utt", fix)

    if d.segments is not None:
        for key, value in d.segments.items():
            parts = value.split()
            if len(parts) != 3:
                raise d.segments.error(key, "expected '<utt> <reco> <start> <end>'")
            try:
                start, end = float(parts[1]), float(parts[2])
            except ValueError:
                raise d.segments.error(key, "start/end are not numbers") from None
            if start < 0 or (end >= 0 and end <= start):
                raise d.segments.error(key, f"bad segment times {start} {end}")
            if d.wav_scp is not None and parts[0] not in d.wav_scp:
                raise d.segments.error(key, f"recording '{parts[0]}' is not in wav.scp", fix=fix)
        _same_keys(d, "segments", utts, fix)
    elif d.wav_scp is not None:
        _same_keys(d, "wav.scp", utts, fix)

    for name in ("utt2lang", "utt2dur", "utt2num_frames", "feats.scp", "vad.scp", "text"):
        if d.table(name) is not None:
            _same_keys(d, name, utts, fix)
    for name in NUMERIC_TABLES:
        table = d.table(name)
        if table is None:
            continue
        for key in table:
            value = d.numeric(name, key)
            if not np.isfinite(value) or value <= 0:
                raise table.error(key, f"{name} value {table[key]} must be a positive number",
                                  fix="remove empty utterances with utils/fix_data_dir.sh")
    if d.utt2lang is not None:
        for key, value in d.utt2lang.items():
            if len(value.split()) != 1:
                raise d.utt2lang.error(key, f"expected '<utt> <lang>', got '{key} {value}'")
    return d


def _check_inverse(d: DataDir, fwd: str, inv: str, fix: str) -> None:
    f, i = d.table(fwd), d.table(inv)
    if f is None or i is None:
        return
    expected = invert(f)
    for key, value in i.items():
        if key not in expected:
            raise i.error(key, f"'{key}' does not appear in {fwd}", fix=fix)
        if value.split() != expected[key]:
            raise i.error(key, f"{inv} disagrees with {fwd} for '{key}'", fix=fix)
    for key in expected:
        if key not in i:
            raise DataDirError(d.file(inv), f"'{key}' from {fwd} is missing", fix=fix)


def _same_keys(d: DataDir, name: str, utts: set[str], fix: str) -> None:
    table = d.table(name)
    keys = set(table)
    extra = keys - utts
    if extra:
        key = min(extra, key=lambda k: table.lines[k])
        raise table.error(key, f"utterance '{key}' is not in utt2spk", fix=fix)
    missing = utts - keys
    if missing:
        key = min(missing, key=lambda k: d.utt2spk.lines[k])
        raise DataDirError(d.file(name), f"utterance '{key}' (utt2spk line "
                           f"{d.utt2spk.lines[key]}) is missing", fix=fix)


def iter_utterance_audio(d: DataDir | str | os.PathLike,
                         utts: list[str] | None = None) -> Iterator[tuple[str, np.ndarray, int]]:
    """Yield (utt, float32 samples in [-1, 1), sample rate), cutting segments when present."""
    if not isinstance(d, DataDir):
        d = DataDir(d)
    wav = d.wav_scp
    if wav is None:
        raise DataDirError(d.file("wav.scp"), "file does not exist")
    seg = d.segments
    utts = utts if utts is not None else d.utts
    if seg is None:
        for utt in utts:
            if utt not in wav:
                raise DataDirError(d.file("wav.scp"), f"utterance '{utt}' is missing")
            samples, sr = read_audio(wav[utt], where=wav.where(utt), utt=utt)
            yield utt, samples, sr
        return
    # Each recording is decoded once, however many segments it has: it is kept from its
    # first segment to its last one in `utts` order (usually one recording at a time).
    ranges = []
    for utt in utts:
        if utt not in seg:
            raise DataDirError(d.file("segments"), f"utterance '{utt}' is missing")
        reco, start, end = seg[utt].split()
        if reco not in wav:
            raise seg.error(utt, f"recording '{reco}' is not in wav.scp")
        ranges.append((utt, reco, float(start), float(end)))
    last_use = {reco: i for i, (_, reco, _, _) in enumerate(ranges)}
    decoded: dict[str, tuple[np.ndarray, int]] = {}
    for i, (utt, reco, start, end) in enumerate(ranges):
        if reco not in decoded:
            decoded[reco] = decode_audio(wav[reco], where=wav.where(reco), utt=utt)
        whole, sr = decoded[reco]
        if last_use[reco] == i:
            del decoded[reco]
        samples = cut_segment(whole, sr, start, end, spec=wav[reco].strip(),
                              where=wav.where(reco))
        yield utt, samples, sr


def write_data_dir(path, tables: dict[str, dict]) -> Path:
    """Write the given tables (name -> mapping) and derived spk2utt / lang2utt, atomically."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name, mapping in tables.items():
        write_table(path / name, mapping)
    if "utt2spk" in tables:
        write_table(path / "spk2utt", invert(tables["utt2spk"]))
    if "utt2lang" in tables:
        write_table(path / "lang2utt", invert(tables["utt2lang"]))
    return path


def load_tables(d: DataDir) -> dict[str, Table]:
    """All per-utterance / per-recording tables present (derived ones excluded)."""
    return {name: d.table(name) for name in ALL_TABLES
            if name not in ("spk2utt", "lang2utt") and d.table(name) is not None}


def _filtered(d: DataDir, keep_utts: set[str]) -> dict[str, dict]:
    tables = load_tables(d)
    out: dict[str, dict] = {}
    recos = None
    if "segments" in tables:
        recos = {tables["segments"][u].split()[0] for u in keep_utts if u in tables["segments"]}
    spks = {tables["utt2spk"][u] for u in keep_utts if u in tables["utt2spk"]} \
        if "utt2spk" in tables else set()
    for name, table in tables.items():
        if name in RECO_TABLES and recos is not None:
            out[name] = {k: v for k, v in table.items() if k in recos}
        elif name in SPK_TABLES:
            out[name] = {k: v for k, v in table.items() if k in spks}
        else:
            out[name] = {k: v for k, v in table.items() if k in keep_utts}
    return out


def subset_data_dir(src, dst, *, utts=None, spks=None, first: int | None = None,
                    last: int | None = None, random_n: int | None = None,
                    shortest: int | None = None, seed: int = 0) -> Path:
    """Kaldi's subset_data_dir.sh: keep a list of utts or speakers, the first/last N, N at
    random (deterministic by seed), or the N shortest (by utt2dur)."""
    d = DataDir(src)
    all_utts = d.utts
    chosen = [o is not None for o in (utts, spks, first, last, random_n, shortest)]
    if sum(chosen) != 1:
        raise ValueError("give exactly one of utts, spks, first, last, random_n, shortest")
    if utts is not None:
        keep = set(utts)
        unknown = sorted(keep - set(all_utts))
        if unknown:
            raise DataDirError(d.file("utt2spk"), f"{len(unknown)} requested utterances are not "
                               f"in the data dir, e.g. '{unknown[0]}'")
    elif spks is not None:
        spks = set(spks)
        keep = {u for u, s in d.utt2spk.items() if s in spks}
    elif first is not None:
        keep = set(all_utts[:first])
    elif last is not None:
        keep = set(all_utts[-last:]) if last else set()
    elif random_n is not None:
        rng = np.random.default_rng(seed)
        n = min(random_n, len(all_utts))
        keep = {all_utts[i] for i in rng.choice(len(all_utts), size=n, replace=False)}
    else:
        if d.utt2dur is None:
            raise DataDirError(d.file("utt2dur"), "file does not exist",
                               fix="needed for shortest-N subsets")
        order = sorted(all_utts, key=lambda u: (d.numeric("utt2dur", u), u))
        keep = set(order[:shortest])
    return write_data_dir(dst, _filtered(d, keep))


def split_data_dir(path, nj: int, *, per_spk: bool = False) -> list[Path]:
    """Split into `path/split{nj}/{1..nj}` (contiguous, near-equal by utterance count, or by
    whole speakers with per_spk). An existing split newer than every source file is reused."""
    d = DataDir(path)
    if nj < 1:
        raise ValueError("nj must be >= 1")
    root = d.path / f"split{nj}{'spk' if per_spk else ''}"
    parts = [root / str(j) for j in range(1, nj + 1)]
    # Hidden files (.lock, .backup/, temp tables) are not data: they must not outdate a split.
    sources = [p for p in d.path.iterdir() if p.is_file() and not p.name.startswith(".")]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    if (root / ".done").is_file() and (root / ".done").stat().st_mtime >= newest and \
            all(p.is_dir() for p in parts):
        return parts
    utts = d.utts
    if per_spk:
        groups = invert(d.utt2spk)
        units = [groups[s] for s in sorted(groups)]
    else:
        units = [[u] for u in utts]
    if len(units) < nj:
        raise DataDirError(d.path, f"cannot split {len(units)} "
                           f"{'speakers' if per_spk else 'utterances'} into {nj} jobs",
                           fix=f"use --nj {max(1, len(units))} or fewer")
    bounds = [(j * len(units)) // nj for j in range(nj + 1)]
    for j, part in enumerate(parts):
        keep = {u for unit in units[bounds[j]:bounds[j + 1]] for u in unit}
        write_data_dir(part, _filtered(d, keep))
    (root / ".done").write_text("")
    return parts
