"""Running a trained model (final.pt) on whole utterances: scores, embeddings, raw audio.

Each utterance is used whole (no chunking): features -> sliding CMN -> voiced frames
(`prepare_features`, as in training) -> network. Scores are log-softmax outputs over the
model's languages. An utterance with no voiced frame is scored on all its frames with a
warning (a score file must cover every utterance); one shorter than the network's receptive
field is repeat-padded (the same rule as training chunks).

`features_from_audio` recomputes features from raw audio with the feature/VAD options saved
in final.pt, so `lidtool identify` sees what training saw.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lidtool.data.tables import read_table
from lidtool.errors import CheckpointError, FeatureError
from lidtool.train.data import repeat_pad

log = logging.getLogger(__name__)


def job_slice(utts: list[str], nj: int, job: int) -> list[str]:
    """Contiguous block `job` (1-based) of `nj` blocks of the sorted utterance list."""
    if not 1 <= job <= nj:
        raise ValueError(f"job {job} is not in 1..{nj}")
    n = len(utts)
    return utts[(job - 1) * n // nj: job * n // nj]


def prepared_utterances(data_dir, cmn_window: int, utts: list[str] | None = None):
    """Yield (utt, prepared features [T, D]) for the utterances of `data_dir`/feats.scp."""
    from lidtool.features.io import read_matrix, read_vector
    from lidtool.features.pipeline import prepare_features
    data_dir = Path(data_dir)
    feats_scp = read_table(data_dir / "feats.scp")
    vad_scp = read_table(data_dir / "vad.scp") if (data_dir / "vad.scp").is_file() else None
    for utt in (utts if utts is not None else list(feats_scp)):
        if utt not in feats_scp:
            raise feats_scp.error(utt, f"no features for '{utt}'")
        feats = read_matrix(feats_scp[utt], where=feats_scp.where(utt))
        vad = None
        if vad_scp is not None:
            if utt not in vad_scp:
                raise FeatureError(data_dir / "vad.scp", f"utterance '{utt}' has no VAD entry",
                                   fix="utils/fix_data_dir.sh, or recompute vad.scp")
            vad = read_vector(vad_scp[utt], where=vad_scp.where(utt))
            if len(vad) == len(feats) and not np.any(vad > 0.5):
                log.warning("%s: '%s' has no voiced frame; scoring all %d frames",
                            data_dir / "vad.scp", utt, len(feats))
                vad = None
        yield utt, prepare_features(feats, vad, cmn_window=cmn_window, utt=utt,
                                    where=feats_scp.where(utt))


@torch.no_grad()
def forward_utterance(model, feats: np.ndarray, device, layer: str | None = None,
                      embed: bool = False) -> np.ndarray:
    """Log-posteriors [C] (or the embedding at `layer` when `embed`) of one utterance."""
    feats = repeat_pad(np.asarray(feats, dtype=np.float32), model.min_frames)
    x = torch.from_numpy(np.ascontiguousarray(feats)).unsqueeze(0).to(device)
    if embed:
        return model.embed(x, layer)[0].float().cpu().numpy()
    return torch.log_softmax(model(x).float(), dim=1)[0].cpu().numpy()


def score_utterances(model, items, device, desc: str = "infer"):
    """items: iterable of (utt, feats) -> (utts, log-posterior matrix [N, C])."""
    utts, rows = [], []
    for utt, feats in tqdm(items, desc=desc, unit="utt", mininterval=5):
        utts.append(utt)
        rows.append(forward_utterance(model, feats, device))
    return utts, np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def embed_utterances(model, items, device, layer: str | None = None, desc: str = "embed"):
    for utt, feats in tqdm(items, desc=desc, unit="utt", mininterval=5):
        yield utt, forward_utterance(model, feats, device, layer=layer, embed=True)


# -- raw audio ----------------------------------------------------------------------------------
def features_from_audio(samples: np.ndarray, sr: int, features: dict, *,
                        where: tuple[str, int | None] = ("<audio>", None),
                        model_path="final.pt") -> np.ndarray:
    """Prepared features of raw audio with the pipeline saved in a model file."""
    from lidtool.features.extract import FeatureConfig, compute_features, compute_log_energy
    from lidtool.features.pipeline import prepare_features
    from lidtool.features.vad import VadConfig, compute_vad
    if not features or not features.get("feature_config"):
        raise CheckpointError(model_path, "the model has no feature config, so features "
                              "cannot be computed from audio",
                              fix="train with --feat-config conf/<features>.conf")
    fcfg = FeatureConfig.from_dict(features["feature_config"], source=str(model_path))
    if sr != fcfg.sample_rate:
        from math import gcd

        from scipy.signal import resample_poly
        g = gcd(int(sr), int(fcfg.sample_rate))
        samples = resample_poly(samples, fcfg.sample_rate // g, sr // g).astype(np.float32)
        sr = fcfg.sample_rate
    feats = compute_features(samples, sr, fcfg, where=where)
    vad = None
    if features.get("vad_config") is not None:
        vcfg = VadConfig.from_dict(features["vad_config"], source=str(model_path))
        energy = (compute_log_energy(samples, sr, fcfg, where=where)
                  if fcfg.type in ("fbank", "logmel") else feats)
        vad = compute_vad(energy, vcfg, where=where)
        if not np.any(vad > 0.5):
            log.warning("%s: no voiced frame; using all %d frames", where[0], len(feats))
            vad = None
    return prepare_features(feats, vad, cmn_window=int(features.get("cmn_window", 300)),
                            where=where)


def add_job_arguments(p) -> None:
    """Options shared by the per-job inference commands (infer, extract-embeddings)."""
    p.add_argument("--nj", type=int, default=1, help="number of parallel jobs")
    p.add_argument("--job", type=int, default=1, help="which job (1..nj) this is")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda[:N]")
    p.add_argument("--num-threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("model", help="exp/<sys>/final.pt")
    p.add_argument("data_dir", help="data dir with feats.scp (and vad.scp)")


def open_job(args):
    """Load the model of `args.model` and this job's share of `args.data_dir`: returns
    (model, info, device, a lazy iterator of (utt, prepared features))."""
    from lidtool.train.checkpoint import load_model
    from lidtool.train.distributed import pick_device
    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    device = pick_device(args.device)
    model, info = load_model(args.model, device)
    utts = job_slice(list(read_table(Path(args.data_dir) / "feats.scp")), args.nj, args.job)
    cmn = int((info.get("features") or {}).get("cmn_window", 300))
    return model, info, device, prepared_utterances(args.data_dir, cmn, utts)
