"""Checks that a model fits the features it is about to score, made before the first
forward pass: a network with a pooling layer accepts features of a neighbouring dimension
without a word (a ResNet scores 21..24-dim features of a 23-dim model), and any other
size ends in a raw torch shape error.

  check_model_features(info, model_path)   the model's saved feature config gives the
                                           dimension it was trained on (identify and the
                                           per-job commands call it after load_model)
  feature_owner(info, model_path)          "the model X (mfcc features) expects": the
                                           FeatureReader's `dim_owner` in inference
  check_data_features(info, model_path, reader, utt)
                                           one utterance of a data dir has the model's
                                           dimension (an error naming the model, the data
                                           dir and both dimensions), and its archive is not
                                           named after another feature type (a warning)
Short utterances are counted by `ShortUtterances` (jobs.py).
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from lidtool.errors import CheckpointError, FeatureError

log = logging.getLogger(__name__)

# steps/make_feats.sh names its archives raw_<conf name>_<data>.*: the conf name starts with
# the feature type (FeatureConfig.from_file reads the type from it the same way).
_ARCHIVE_TYPE = re.compile(r"^raw_(mfcc_pitch|mfcc|fbank|logmel)[_.]")


def model_feature_type(info: dict) -> str | None:
    cfg = (info.get("features") or {}).get("feature_config") or {}
    return cfg.get("type")


def feature_owner(info: dict, model_path) -> str:
    kind = model_feature_type(info)
    return f"but the model {model_path}" + (f" ({kind} features)" if kind else "") + " expects"


def check_model_features(info: dict, model_path) -> None:
    """CheckpointError when the feature config saved in the model gives features of another
    dimension than the network was built for (trained with a wrong --feat-config)."""
    from lidtool.features.extract import FeatureConfig
    cfg = (info.get("features") or {}).get("feature_config")
    if not cfg:
        return
    dim = FeatureConfig.from_dict(cfg, source=str(model_path)).dim
    if dim != int(info["feat_dim"]):
        raise CheckpointError(model_path, f"the network takes {info['feat_dim']}-dim "
                              f"features but its saved feature config ({cfg.get('type')}) "
                              f"gives {dim}-dim features",
                              fix="retrain with the --feat-config the training features "
                                  "were made with")


def check_data_features(info: dict, model_path, reader, utt: str) -> None:
    """(`reader`: a FeatureReader without `dim`.) FeatureError naming the model, the data dir (its feats.scp line) and both dimensions
    when `utt`'s features do not have the model's dimension; a warning when the archive's
    name says another feature type than the model's."""
    expected = int(info["feat_dim"])
    path, line = reader.where(utt)
    kind = model_feature_type(info)
    found = _archive_type(reader.feats[utt])
    if kind and found and found != kind:
        log.warning("%s:%s: the features of %s come from '%s' archives, but the model %s "
                    "was trained on %s features", path, line, reader.path, found,
                    model_path, kind)
    dim = int(reader.matrix(utt).shape[1]) if reader.dim is None else reader.dim
    if dim != expected:
        raise FeatureError(path, f"the features of {reader.path} have dimension {dim} "
                           f"('{utt}'), {feature_owner(info, model_path)} {expected}",
                           line=line, fix="compute the features with the model's feature "
                           "config" + (f" ({kind})" if kind else ""))


def _archive_type(rxspec: str) -> str | None:
    m = _ARCHIVE_TYPE.match(Path(rxspec.split(":", 1)[0]).name)
    return m.group(1) if m else None
