"""Score a verification trial list: embeddings -> enrolment models -> scores (-> AS-norm).

    enrol = Embeddings.read("exp/xv/enrol/xvector.scp")
    test = Embeddings.read("exp/xv/test/xvector.scp")
    models = enrol_groups(trials, enrol, read_enrol_map("data/enrol/enrol_map", enrol))
    raw = score_trials(backend, trials, enrol, test, models)
    normed = asnorm_trials(backend, trials, enrol, test, models, cohort, top=300)

Enrolment map (`<enrol_id> <utt> [<utt> ...]` per line): the enrolment model averages those
utterances; without a map an enrolment id is an utterance of the enrolment embeddings.
Test ids are always utterances of the test embeddings. An id of the trial list that neither
resolves to is an error naming the trial list's line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lidtool.backend.score_norm import adaptive_snorm
from lidtool.backend.vectors import labels_for, read_vectors
from lidtool.backend.verification import SvBackend
from lidtool.data.tables import read_table
from lidtool.errors import DataDirError
from lidtool.metrics.trials import Trials


@dataclass
class Embeddings:
    """Vectors of one scp: `X[row[utt]]` is the embedding of `utt`."""
    path: str
    utts: list[str]
    X: np.ndarray
    row: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, scp) -> "Embeddings":
        utts, X = read_vectors(scp)
        return cls(str(scp), utts, X, {u: i for i, u in enumerate(utts)})


def read_enrol_map(path, enrol: Embeddings) -> dict[str, list[int]]:
    """`<enrol_id> <utt> [<utt> ...]` -> {enrol_id: rows of `enrol`}; an utterance without
    an embedding is a DataDirError naming the map's line."""
    table = read_table(path, require_sorted=False)
    groups = {}
    for model, value in table.items():
        utts = value.split()
        missing = [u for u in utts if u not in enrol.row]
        if missing:
            raise table.error(model, f"enrolment utterance '{missing[0]}' of '{model}' has "
                              f"no embedding in {enrol.path}",
                              fix="extract embeddings for every enrolment utterance")
        groups[model] = [enrol.row[u] for u in utts]
    return groups


def enrol_groups(trials: Trials, enrol: Embeddings,
                 enrol_map: dict[str, list[int]] | None = None) -> dict[str, list[int]]:
    """The enrolment models the trials use, in order of first use: {id: rows of `enrol`}."""
    groups: dict[str, list[int]] = {}
    for k, model in enumerate(trials.enrol):
        if model in groups:
            continue
        if enrol_map is not None:
            if model not in enrol_map:
                raise trials.error(k, f"enrolment model '{model}' is not in the enrolment map",
                                   fix="add it to the --enrol-map file")
            groups[model] = enrol_map[model]
        elif model in enrol.row:
            groups[model] = [enrol.row[model]]
        else:
            raise trials.error(k, f"enrolment utterance '{model}' has no embedding in "
                               f"{enrol.path}", fix="give --enrol-map if enrolment ids name "
                               "models of several utterances")
    return groups


def _test_rows(trials: Trials, test: Embeddings) -> np.ndarray:
    for k, utt in enumerate(trials.test):
        if utt not in test.row:
            raise trials.error(k, f"test utterance '{utt}' has no embedding in {test.path}",
                               fix="extract embeddings for every test utterance")
    return np.array([test.row[u] for u in trials.test], dtype=np.int64)


@dataclass
class _Sides:
    """Transformed enrolment models and test vectors, and each trial's index into them."""
    models: np.ndarray
    counts: np.ndarray
    tests: np.ndarray
    enrol_idx: np.ndarray
    test_idx: np.ndarray


def _sides(be: SvBackend, trials: Trials, enrol: Embeddings, test: Embeddings,
           groups: dict[str, list[int]]) -> _Sides:
    index = {m: i for i, m in enumerate(groups)}
    Z = be.transform(enrol.X, enrol.path)
    models, counts = be.models([Z[rows] for rows in groups.values()])
    test_rows = _test_rows(trials, test)
    used, test_idx = np.unique(test_rows, return_inverse=True)
    return _Sides(models, counts, be.transform(test.X[used], test.path),
                  np.array([index[m] for m in trials.enrol], dtype=np.int64), test_idx)


def score_trials(be: SvBackend, trials: Trials, enrol: Embeddings, test: Embeddings,
                 groups: dict[str, list[int]]) -> np.ndarray:
    """Raw back-end score of every trial (trial order)."""
    return _raw_scores(be, _sides(be, trials, enrol, test, groups))


def _raw_scores(be: SvBackend, s: _Sides) -> np.ndarray:
    return be.score_pairs(s.models[s.enrol_idx], s.counts[s.enrol_idx], s.tests[s.test_idx], 1)


def cohort_models(be: SvBackend, cohort: Embeddings,
                  utt2spk=None) -> tuple[np.ndarray, np.ndarray]:
    """The cohort in scoring space: one entry per utterance, or per speaker (the mean of
    its utterances) when `utt2spk` is given."""
    Z = be.transform(cohort.X, cohort.path)
    if utt2spk is None:
        return Z, np.ones(len(Z))
    speakers = labels_for(cohort.utts, utt2spk, what="speaker")
    names, spk_idx = np.unique(speakers, return_inverse=True)
    if len(names) < 2:
        raise DataDirError(utt2spk, f"an AS-norm cohort needs at least 2 speakers, got "
                           f"{list(names)}")
    return be.models([Z[spk_idx == i] for i in range(len(names))])


def asnorm_trials(be: SvBackend, trials: Trials, enrol: Embeddings, test: Embeddings,
                  groups: dict[str, list[int]], cohort: tuple[np.ndarray, np.ndarray],
                  top: int) -> tuple[np.ndarray, np.ndarray]:
    """(raw scores, AS-norm scores) of every trial against `cohort` = cohort_models(...)."""
    s = _sides(be, trials, enrol, test, groups)
    raw = _raw_scores(be, s)
    cohort_vecs, cohort_n = cohort
    enrol_cohort = be.score_matrix(s.models, s.counts, cohort_vecs, cohort_n)
    test_cohort = be.score_matrix(s.tests, 1, cohort_vecs, cohort_n)
    return raw, adaptive_snorm(raw, s.enrol_idx, s.test_idx, enrol_cohort, test_cohort, top)
