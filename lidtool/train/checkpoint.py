"""Checkpoints (the whole training state) and final model files (what inference loads).

exp/<sys>/checkpoints/ckpt-<step>.pt holds: format tag, step, config, model, optimizer,
scheduler, samplers, strategy state (e.g. WADCL's h_r, DCL's stage), WMA, and the RNG states
of python, numpy and torch (+ CUDA). `--resume auto` continues from the highest step.

exp/<sys>/final.pt holds what a user needs to run the model on new audio: the artifact's
`kind` (what the strategy trains: "classifier" for every strategy today), the config, the
classes (ids = positions) and the table they come from (`label_table`, e.g. utt2lang; such
files also keep the list under the old key "langs"), the feature dimension, the model
weights (the WMA model when WMA is on, or the mean of the last checkpoints with
train.average_last) and the feature pipeline (feature and VAD options, CMN window) so that
`lidtool identify` recomputes features exactly as in training. `load_model` normalises
older files (only "langs"): its info always has "classes", "label_table" and "kind".

Files are written atomically (temp file, then rename) and loaded with `weights_only=True`
(plain containers and tensors only); anything unreadable raises CheckpointError naming the
file.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch

from lidtool.errors import CheckpointError
from lidtool.fileio import atomic_path

CKPT_FORMAT = "lidtool-checkpoint"
MODEL_FORMAT = "lidtool-model"
_CKPT_RE = re.compile(r"^ckpt-(\d+)\.pt$")


def save_file(path, obj: dict) -> None:
    """torch.save through a temp file: a failed write (disk full, quota, permissions) is a
    CheckpointError saying so, and leaves the file it would replace, and every other
    checkpoint, as they were (pruning runs only after a successful save)."""
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except (OSError, RuntimeError) as err:
        # torch reports a failed write as RuntimeError ("PytorchStreamWriter failed writing
        # file ..."); the OS error (ENOSPC, EDQUOT, EACCES) may be a plain OSError
        detail = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
        raise CheckpointError(path, f"could not be written ({detail}); is the disk full? "
                              "Nothing was replaced: the previous checkpoints are intact",
                              fix=f"free space in {Path(path).parent} (or fix its "
                                  "permissions) and re-run: training resumes from the "
                                  "latest checkpoint") from None


def _read(path, map_location="cpu"):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:   # torch raises many types for truncated/garbage files
        raise CheckpointError(path, f"cannot read it as a torch file ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:200] if str(err) else ''})",
                              fix="delete it and resume from an earlier checkpoint") from None


def load_file(path, fmt: str | tuple[str, ...], map_location="cpu") -> dict:
    formats = (fmt,) if isinstance(fmt, str) else tuple(fmt)
    obj = _read(path, map_location)
    if not isinstance(obj, dict) or obj.get("format") not in formats:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(path, f"not a {' or '.join(formats)} file (format: {found!r})")
    return obj


def load_weights(path) -> dict:
    """The model weights of a checkpoint, a model file (final.pt, any artifact kind) or a
    plain state dict saved with torch.save (a pretrained encoder from elsewhere)."""
    obj = _read(path)
    if isinstance(obj, dict) and obj.get("format") in (CKPT_FORMAT, MODEL_FORMAT):
        obj = obj.get("model")
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise CheckpointError(path, "holds no model weights (neither a lidtool checkpoint or "
                              "model file nor a state dict of tensors)")
    return obj


# -- checkpoints ---------------------------------------------------------------------------
def checkpoint_path(exp_dir, step: int) -> Path:
    return Path(exp_dir) / "checkpoints" / f"ckpt-{step:08d}.pt"


def list_checkpoints(exp_dir) -> list[tuple[int, Path]]:
    folder = Path(exp_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _CKPT_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(exp_dir) -> Path | None:
    found = list_checkpoints(exp_dir)
    return found[-1][1] if found else None


def prune_checkpoints(exp_dir, keep: int) -> None:
    for _, path in list_checkpoints(exp_dir)[:-keep] if keep > 0 else []:
        path.unlink(missing_ok=True)


def load_checkpoint(path) -> dict:
    ckpt = load_file(path, CKPT_FORMAT)
    missing = [k for k in ("step", "config", "model", "optimizer", "scheduler", "rng")
               if k not in ckpt]
    if missing:
        raise CheckpointError(path, f"checkpoint lacks {', '.join(missing)}")
    return ckpt


# -- RNG state ------------------------------------------------------------------------------
def rng_state() -> dict:
    np_state = np.random.get_state(legacy=False)
    state = {"python": random.getstate(),
             "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                       "pos": int(np_state["state"]["pos"]),
                       "has_gauss": int(np_state["has_gauss"]),
                       "gauss": float(np_state["gauss"])},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(_tuplify(state["python"]))
    n = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify(x):
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x


# -- final model ----------------------------------------------------------------------------
def save_model(path, artifact: dict, *, config: dict, classes: list[str], label_table: str,
               feat_dim: int, features: dict) -> None:
    """Write final.pt: `artifact` (a strategy's {"kind": ..., "model": state dict, ...}) plus
    what every artifact needs; `features` = {"feature_config": dict|None,
    "vad_config": dict|None, "cmn_window": int}."""
    state = {k: v.detach().cpu() for k, v in artifact["model"].items()}
    out = {"format": MODEL_FORMAT, "version": 1, "config": config, "classes": list(classes),
           "label_table": label_table, "feat_dim": int(feat_dim), "features": features,
           **artifact, "model": state}
    if label_table == "utt2lang":
        out["langs"] = list(classes)     # the key of files written before label tables
    save_file(path, out)


def normalise_model_info(path, info: dict) -> dict:
    """Fill "classes", "label_table" and "kind" of files written before they existed."""
    if "classes" not in info:
        if "langs" not in info:
            raise CheckpointError(path, "model file lacks 'classes'")
        info["classes"] = list(info["langs"])
        info["label_table"] = "utt2lang"
    info.setdefault("label_table", "utt2lang")
    info.setdefault("kind", "classifier")
    if info["label_table"] == "utt2lang":
        info.setdefault("langs", list(info["classes"]))
    return info


def load_model(path, device="cpu"):
    """Rebuild the classifier network of a final.pt; returns (model in eval mode, info)."""
    from lidtool.nnet.model import build_model
    info = load_file(path, MODEL_FORMAT)
    for key in ("config", "feat_dim", "model"):
        if key not in info:
            raise CheckpointError(path, f"model file lacks '{key}'")
    info = normalise_model_info(path, info)
    if info["kind"] != "classifier":
        raise CheckpointError(path, f"holds a '{info['kind']}', not a classifier network")
    cfg = info["config"]
    model = build_model(cfg["model"], cfg["head"], info["feat_dim"], len(info["classes"]),
                        source=str(path))
    try:
        model.load_state_dict(info["model"])
    except RuntimeError as err:
        raise CheckpointError(path, f"weights do not fit the network of its config: "
                              f"{str(err).splitlines()[0]}") from None
    model.to(device).eval()
    return model, info


def model_from_checkpoint(ckpt_path, model_path, out_path) -> int:
    """Write `out_path`: the model file `model_path` of a run with the weights of that run's
    training checkpoint `ckpt_path` instead of its final ones, so an intermediate state
    (e.g. each round of an adaptation) can be scored like final.pt. Returns the step.
    A checkpoint of another network or class list is a CheckpointError."""
    info = load_file(model_path, MODEL_FORMAT)
    ckpt = load_checkpoint(ckpt_path)
    if ckpt["config"].get("model") != info.get("config", {}).get("model") or \
            list(ckpt.get("classes", [])) != list(info.get("classes", [])):
        raise CheckpointError(ckpt_path, f"is not a checkpoint of the run of {model_path} "
                              "(network config or classes differ)")
    if set(ckpt["model"]) != set(info["model"]):
        raise CheckpointError(ckpt_path, f"its weights are not those of {model_path} "
                              "(e.g. a WMA or averaged final model)")
    info["model"] = {k: v.detach().cpu() for k, v in ckpt["model"].items()}
    info["checkpoint_step"] = int(ckpt["step"])
    save_file(out_path, info)
    return int(ckpt["step"])
