"""A trained back-end: a chain of vector transforms and a classifier, saved as one file.

Works on any utterance vectors (i-vectors, x-vectors, other embeddings):

    be = Backend(BackendConfig(...)).fit(X_train, train_langs)
    scores = be.scores(X_test)            # [N, L], columns in be.langs order
    be.save("exp/ivector/backend.npz"); Backend.load(path)
"""
from __future__ import annotations

import numpy as np

from lidtool.backend.classifiers import CLASSIFIERS, make_classifier
from lidtool.backend.config import BackendConfig
from lidtool.backend.transforms import TRANSFORMS, make_transform
from lidtool.errors import CheckpointError, FeatureError
from lidtool.ivector.modelio import load_npz, save_npz

KIND = "lid_backend"


class Backend:
    def __init__(self, cfg: BackendConfig | None = None):
        self.cfg = cfg or BackendConfig()
        opts = self.cfg.to_dict()
        self.transforms = [make_transform(n, opts) for n in self.cfg.chain]
        self.classifier = make_classifier(self.cfg.classifier, opts)
        self.langs: list[str] = []
        self.input_dim: int | None = None

    def fit(self, X: np.ndarray, labels, where="<vectors>") -> "Backend":
        X = np.asarray(X, dtype=np.float64)
        self.langs = sorted(set(labels))
        if len(self.langs) < 2:
            raise FeatureError(where, f"training needs at least 2 languages, got {self.langs}")
        index = {lang: i for i, lang in enumerate(self.langs)}
        y = np.array([index[lang] for lang in labels], dtype=np.int64)
        self.input_dim = X.shape[1]
        for t in self.transforms:
            X = t.fit(X, y).apply(X)
        self.classifier.fit(X, y, len(self.langs))
        return self

    def transform(self, X: np.ndarray, where="<vectors>") -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise FeatureError(where, f"vectors have dimension {X.shape[-1]}, the back-end was "
                               f"trained on dimension {self.input_dim}",
                               fix="score vectors from the same extractor as the training set")
        for t in self.transforms:
            X = t.apply(X)
        return X

    def scores(self, X: np.ndarray, where="<vectors>") -> np.ndarray:
        return self.classifier.scores(self.transform(X, where))

    def save(self, path) -> None:
        arrays = {"langs": np.array(self.langs)}
        for i, t in enumerate(self.transforms):
            arrays.update({f"t{i}.{k}": v for k, v in t.state().items()})
        arrays.update({f"clf.{k}": v for k, v in self.classifier.state().items()})
        save_npz(path, KIND, arrays, meta={"config": self.cfg.to_dict(),
                                            "input_dim": self.input_dim})

    @classmethod
    def load(cls, path) -> "Backend":
        _, arrays, meta = load_npz(path, KIND)
        try:
            cfg = BackendConfig.from_dict(meta["config"], where=path)
            be = cls.__new__(cls)
            be.cfg = cfg
            opts = cfg.to_dict()
            be.transforms = []
            for i, name in enumerate(cfg.chain):
                state = {k.split(".", 1)[1]: v for k, v in arrays.items()
                         if k.startswith(f"t{i}.")}
                be.transforms.append(TRANSFORMS[name].from_state(state, opts))
            state = {k[4:]: v for k, v in arrays.items() if k.startswith("clf.")}
            be.classifier = CLASSIFIERS[cfg.classifier].from_state(state, opts)
            be.langs = [str(x) for x in arrays["langs"]]
            be.input_dim = int(meta["input_dim"])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(path, f"incomplete back-end file ({err!r})") from None
        return be
