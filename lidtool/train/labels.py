"""What a training run learns to predict: the label table and its class map.

`data.label_table` names a data-dir table `utt2<x>` whose values are the classes
(`utt2lang`: languages, the default; `utt2spk`: speakers; any other utt2<x> file works the
same way) or `none` (no classes: self-supervised strategies). `data.group_table` optionally
names a second table (e.g. `utt2lang`) that the samplers group by (balanced / alpha
sampling over languages while the classes are speakers, or grouping without classes).

A class map file `<class> <id>` (ids 0..N-1) fixes the ids; the run writes it as
exp/<sys>/<x>2id (`lang2id` for utt2lang, `spk2id` for utt2spk).
"""
from __future__ import annotations

import re

from lidtool.data.tables import read_table
from lidtool.errors import DataDirError
from lidtool.fileio import atomic_open

NO_LABELS = "none"
_TABLE_RE = re.compile(r"^utt2[A-Za-z0-9_]+$")


def is_table_name(name) -> bool:
    return isinstance(name, str) and bool(_TABLE_RE.match(name))


def class_map_name(label_table: str) -> str | None:
    """File name of the class map of `label_table` (utt2lang -> lang2id), None for none."""
    if label_table == NO_LABELS:
        return None
    return f"{label_table[len('utt2'):]}2id"


def read_class_map(path) -> list[str]:
    """Read a `<class> <id>` file; ids must be 0..N-1, each once. Returns classes by id."""
    table = read_table(path, require_sorted=False)
    classes: dict[int, str] = {}
    for name, value in table.items():
        try:
            idx = int(value)
        except ValueError:
            raise table.error(name, f"id '{value}' of '{name}' is not an integer") from None
        if idx in classes:
            raise table.error(name, f"id {idx} given to both '{classes[idx]}' and '{name}'")
        classes[idx] = name
    if sorted(classes) != list(range(len(classes))):
        raise DataDirError(path, f"ids must be 0..{len(classes) - 1} without gaps, "
                           f"got {sorted(classes)}")
    return [classes[i] for i in range(len(classes))]


def write_class_map(path, classes: list[str]) -> None:
    with atomic_open(path) as f:
        for i, name in enumerate(classes):
            f.write(f"{name} {i}\n")


def read_utt_table(data_dir, name: str, feats_scp):
    """Table `name` of `data_dir`, checked to cover every utterance of `feats_scp`."""
    path = data_dir / name
    if not path.is_file():
        raise DataDirError(path, f"the label/group table '{name}' does not exist",
                           fix="check data.label_table / data.group_table")
    table = read_table(path)
    for utt in feats_scp:
        if utt not in table:
            raise feats_scp.error(utt, f"utterance '{utt}' has no entry in {path}",
                                  fix="utils/fix_data_dir.sh")
    return table


def label_ids(table, utts, classes: list[str]) -> dict[str, int]:
    """Map `utts` to the ids of their values in `table`; a value missing from `classes` is
    an error at its line."""
    index = {c: i for i, c in enumerate(classes)}
    out = {}
    for utt in utts:
        value = table[utt]
        if value not in index:
            raise table.error(utt, f"label '{value}' of '{utt}' is not in the label map "
                              f"({', '.join(classes)})",
                              fix="train with a class map that lists it, or drop the utterance")
        out[utt] = index[value]
    return out


def read_labels(data_dir, feats_scp, label_table: str, classes: list[str] | None):
    """(classes, {utt: id}) of `label_table` for the utterances of `feats_scp`; without
    labels (`none`): ([], {utt: -1})."""
    if label_table == NO_LABELS:
        if classes:
            raise DataDirError(data_dir, "a class map was given but data.label_table is none")
        return [], {utt: -1 for utt in feats_scp}
    table = read_utt_table(data_dir, label_table, feats_scp)
    if classes is None:
        classes = sorted(set(table[u] for u in feats_scp))
    return list(classes), label_ids(table, feats_scp, list(classes))


def read_groups(data_dir, feats_scp, group_table: str | None):
    """(group names, {utt: group id}) of `group_table`, or (None, None) without one."""
    if not group_table:
        return None, None
    table = read_utt_table(data_dir, group_table, feats_scp)
    names = sorted(set(table[u] for u in feats_scp))
    return names, label_ids(table, feats_scp, names)
