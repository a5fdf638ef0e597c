"""Speaker-verification back-ends: cosine and LDA + length norm + PLDA, saved as one file.

    be = SvBackend.cosine(mean=None)                   # or SvBackend.train_plda(X, spk, ...)
    E, n_e = be.models(X_enrol_groups)                 # enrolment models (averaged)
    be.score_pairs(E, n_e, T, 1)                       # one score per trial
    be.score_matrix(E, n_e, C, n_c)                    # every model against a cohort
    be.save("exp/sv/plda.npz"); SvBackend.load(path)

cosine: optional mean subtraction (e.g. the training set's mean), then unit length; a model
of several utterances is the renormalised mean of their unit vectors; the score is the dot
product, in [-1, 1]. plda: LDA (trained on the speakers) -> length norm to sqrt(dim) (Kaldi's
ivector-normalize-length) -> two-covariance PLDA; a model is the mean of its utterances in
that space and the score the PLDA log-likelihood ratio for its number of utterances.
"""
from __future__ import annotations

import numpy as np

from lidtool.backend.plda import Plda
from lidtool.backend.transforms import Lda, LengthNorm
from lidtool.errors import CheckpointError, FeatureError
from lidtool.ivector.modelio import load_npz, save_npz

KIND = "sv_backend"
BACKENDS = ("cosine", "plda")


class SvBackend:
    def __init__(self, kind: str, input_dim: int | None, mean=None, lda: Lda | None = None,
                 plda: Plda | None = None, info: dict | None = None):
        if kind not in BACKENDS:
            raise ValueError(f"unknown verification back-end {kind!r}")
        # None: any dimension (a cosine back-end without a mean has nothing dimensioned)
        self.kind = kind
        self.input_dim = None if input_dim is None else int(input_dim)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.lda, self.plda = lda, plda
        self.info = dict(info or {})
        self._unit = LengthNorm(scale_sqrt_dim=False)
        self._lnorm = LengthNorm(scale_sqrt_dim=True)

    @classmethod
    def cosine(cls, mean=None) -> "SvBackend":
        return cls("cosine", None if mean is None else len(mean), mean=mean,
                   info={"mean_subtracted": mean is not None})

    @classmethod
    def train_plda(cls, X: np.ndarray, speakers, lda_dim: int | None = 200, iters: int = 10,
                   where="<vectors>") -> "SvBackend":
        """LDA to `lda_dim` (0/None: no LDA), length norm, PLDA with `iters` EM iterations,
        all trained on X [N, D] with one speaker label per row."""
        X = np.asarray(X, dtype=np.float64)
        names = sorted(set(speakers))
        if len(names) < 2:
            raise FeatureError(where, f"PLDA training needs at least 2 speakers, got {names}")
        index = {s: i for i, s in enumerate(names)}
        y = np.array([index[s] for s in speakers], dtype=np.int64)
        lda = Lda(lda_dim).fit(X, y) if lda_dim else None
        # without LDA (which centres) the length norm needs centred vectors, as Kaldi's
        # ivector-subtract-global-mean before ivector-normalize-length
        be = cls("plda", X.shape[1], lda=lda, mean=None if lda is not None else X.mean(0))
        Z = be.transform(X, where)
        be.plda = Plda.fit(Z, y, iters=iters)
        be.info = {"train_vectors": len(X), "train_speakers": len(names),
                   "lda_dim": None if lda is None else int(lda.proj.shape[1]),
                   "plda_iters": iters}
        return be

    def transform(self, X: np.ndarray, where="<vectors>") -> np.ndarray:
        """Utterance vectors -> the back-end's scoring space (before averaging)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != (self.input_dim or X.shape[1]):
            raise FeatureError(where, f"vectors have dimension {X.shape[-1]}, the back-end was "
                               f"trained on dimension {self.input_dim}",
                               fix="score embeddings from the same extractor as the back-end")
        if self.kind == "cosine":
            return self._unit.apply(X if self.mean is None else X - self.mean)
        if self.lda is not None:
            X = self.lda.apply(X)
        elif self.mean is not None:
            X = X - self.mean
        return self._lnorm.apply(X)

    def models(self, groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """One model per group of transformed utterance vectors: (means [M, d], counts [M])."""
        M = np.stack([g.mean(0) for g in groups])
        n = np.array([len(g) for g in groups], dtype=np.float64)
        if self.kind == "cosine":
            # a one-utterance model stays bit-identical to that utterance's test vector, so
            # that swapping enrolment and test gives the same score
            several = n > 1
            M[several] = self._unit.apply(M[several])
        return M, n

    def score_pairs(self, A, n_a, B, n_b) -> np.ndarray:
        """Score row k of A (a model of n_a[k] utterances) against row k of B."""
        if self.kind == "cosine":
            return np.clip(np.sum(A * B, axis=1), -1.0, 1.0)
        return self.plda.llr_pairs(A, n_a, B, n_b)

    def score_matrix(self, A, n_a, B, n_b) -> np.ndarray:
        """Every row of A against every row of B."""
        if self.kind == "cosine":
            return np.clip(A @ B.T, -1.0, 1.0)
        return self.plda.llr_matrix(A, n_a, B, n_b)

    def save(self, path) -> None:
        arrays = {}
        if self.mean is not None:
            arrays["mean"] = self.mean
        if self.lda is not None:
            arrays.update({f"lda.{k}": v for k, v in self.lda.state().items()})
        if self.plda is not None:
            arrays.update({f"plda.{k}": v for k, v in self.plda.state().items()})
        save_npz(path, KIND, arrays, meta={"backend": self.kind, "input_dim": self.input_dim,
                                            "info": self.info})

    @classmethod
    def load(cls, path) -> "SvBackend":
        _, arrays, meta = load_npz(path, KIND)
        try:
            kind = meta["backend"]
            lda = plda = None
            if "lda.proj" in arrays:
                state = {k[4:]: v for k, v in arrays.items() if k.startswith("lda.")}
                lda = Lda.from_state(state, {})
            if kind == "plda":
                plda = Plda.from_state({k[5:]: v for k, v in arrays.items()
                                        if k.startswith("plda.")})
            return cls(kind, meta["input_dim"], mean=arrays.get("mean"), lda=lda, plda=plda,
                       info=meta.get("info"))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(path, f"incomplete verification back-end file ({err!r})") \
                from None
