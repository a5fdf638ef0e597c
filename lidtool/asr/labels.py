"""Frame labels from decoding: ali.scp (pdf-id per frame, the "virtual phonemes"),
ali_phone.scp (phone id per frame) and phone_seq (phone names per utterance), written
atomically, and the frame-count check against the data dir.
"""
from __future__ import annotations

import os
from pathlib import Path

import kaldiio
import numpy as np

from lidtool.asr.tree import phone_instances
from lidtool.data.datadir import DataDir
from lidtool.data.tables import merge_tables, read_table, write_table
from lidtool.errors import DataDirError, FeatureError
from lidtool.fileio import atomic_path


def write_int_vectors(ark, scp, vectors: dict[str, np.ndarray]) -> None:
    """Kaldi int32 vectors to `ark` + `scp` (sorted by key); both appear only when done."""
    ark, scp = Path(ark), Path(scp)
    ark.parent.mkdir(parents=True, exist_ok=True)
    data = {k: np.asarray(v, dtype=np.int32) for k, v in sorted(vectors.items())}
    with atomic_path(ark) as tmp_ark, atomic_path(scp) as tmp_scp:
        kaldiio.save_ark(tmp_ark, data, scp=tmp_scp)
        final = str(ark.resolve())
        lines = []
        with open(tmp_scp, encoding="utf-8") as f:
            for line in f:
                key, rx = line.rstrip("\n").split(" ", 1)
                off = rx.rsplit(":", 1)[1]
                lines.append(f"{key} {final}:{off}\n")
        with open(tmp_scp, "w", encoding="utf-8") as f:
            f.writelines(lines)


def read_int_vectors(scp) -> dict[str, np.ndarray]:
    table = read_table(scp)
    out = {}
    for key, rx in table.items():
        try:
            out[key] = np.asarray(kaldiio.load_mat(rx), dtype=np.int32)
        except Exception as err:
            raise DataDirError(scp, f"cannot read '{rx}': {err}",
                               line=table.lines[key]) from None
    return out


def expected_frames(data_dir) -> tuple[dict[str, int], str]:
    """utt -> number of feature frames, from utt2num_frames or else feats.scp."""
    d = DataDir(data_dir)
    if d.utt2num_frames is not None:
        return {u: int(d.numeric("utt2num_frames", u)) for u in d.utt2num_frames}, \
            str(d.file("utt2num_frames"))
    if d.feats_scp is None:
        raise DataDirError(d.path, "has neither utt2num_frames nor feats.scp")
    return {u: int(kaldiio.load_mat(rx).shape[0]) for u, rx in d.feats_scp.items()}, \
        str(d.file("feats.scp"))


def check_frame_counts(ali_scp, data_dir, *, require_all: bool = True) -> int:
    """Every utterance of the data dir has exactly one label per feature frame.
    Returns the number of utterances checked; mismatches raise FeatureError naming
    ali.scp and the line."""
    expected, source = expected_frames(data_dir)
    table = read_table(ali_scp)
    for utt, rx in table.items():
        line = table.lines[utt]
        if utt not in expected:
            raise FeatureError(ali_scp, f"utterance '{utt}' is not in {source}", line=line)
        n = int(kaldiio.load_mat(rx).shape[0])
        if n != expected[utt]:
            raise FeatureError(ali_scp, f"'{utt}' has {n} labels but {expected[utt]} frames "
                               f"in {source}", line=line,
                               fix="re-run the decoding for these features")
    if require_all:
        missing = sorted(set(expected) - set(table))
        if missing:
            raise FeatureError(ali_scp, f"{len(missing)} utterances of {source} have no "
                               f"labels (first: '{missing[0]}')",
                               fix="re-run the failed decoding jobs")
    return len(table)


def label_stats(ali_scp, num_classes: int | None = None) -> dict:
    """How the frame labels of `ali_scp` are spread: frames, distinct labels (of
    `num_classes`), the most frequent label and its share of the frames, the entropy
    (bits) and its perplexity - a degenerate labelling has few classes or one dominant."""
    counts = np.zeros(0, dtype=np.int64)
    utts = 0
    for lab in read_int_vectors(ali_scp).values():
        c = np.bincount(lab.astype(np.int64))
        if len(c) > len(counts):
            counts = np.pad(counts, (0, len(c) - len(counts)))
        counts[:len(c)] += c
        utts += 1
    total = int(counts.sum())
    if total == 0:
        raise DataDirError(ali_scp, "holds no labels")
    p = counts[counts > 0] / total
    ent = float(-(p * np.log2(p)).sum())
    out = {"utts": utts, "frames": total, "distinct_labels": int((counts > 0).sum()),
           "most_frequent_label": int(np.argmax(counts)),
           "most_frequent_share": float(counts.max() / total),
           "entropy_bits": ent, "perplexity": float(2 ** ent)}
    if num_classes is not None:
        out["num_classes"] = int(num_classes)
    return out


def phone_outputs(pdf2phone, pdf2state, phones: list[str], pdfs: np.ndarray):
    """Per-frame phone ids and the phone-name sequence of one alignment."""
    inst = phone_instances(pdf2phone, pdf2state, pdfs)
    return pdf2phone[pdfs].astype(np.int32), [phones[p] for p, _, _ in inst]


def merge_labels(out_dir, name: str, job_scps: list, data_dir=None) -> Path:
    """Concatenate per-job scps into out_dir/<name>.scp (sorted, no duplicates) and check
    the frame counts against `data_dir` when given."""
    out = Path(out_dir) / f"{name}.scp"
    write_table(out, merge_tables(job_scps))
    if data_dir is not None:
        try:
            check_frame_counts(out, data_dir)
        except FeatureError:
            os.unlink(out)
            raise
    return out


def merge_text(out_path, parts: list) -> None:
    write_table(out_path, merge_tables(parts, allow_empty_value=True))
