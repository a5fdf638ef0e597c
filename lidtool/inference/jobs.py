"""One inference job over a data dir: its share of the utterances, their prepared features,
and the command-line options that `lidtool infer` and `extract-embeddings` share.

Features come from `lidtool.features.reader.FeatureReader` (as in training); an utterance
whose VAD marks no frame as voiced is scored on all its frames with a warning, because a
score file must cover every utterance. With a model, the features' dimension is checked
against it before the first forward pass (lidtool.inference.checks), and an utterance with
fewer prepared frames than training used (the model's `data.min_frames`) is scored with a
warning naming it; the count goes into the job's summary line.
"""
from __future__ import annotations

import logging

from lidtool.features.reader import FeatureReader
from lidtool.inference.checks import check_data_features, check_model_features, feature_owner
from lidtool.threads import add_num_threads_argument

log = logging.getLogger(__name__)


def job_slice(utts: list[str], nj: int, job: int) -> list[str]:
    """Contiguous block `job` (1-based) of `nj` blocks of the sorted utterance list."""
    if not 1 <= job <= nj:
        raise ValueError(f"job {job} is not in 1..{nj}")
    n = len(utts)
    return utts[(job - 1) * n // nj: job * n // nj]


class JobUtterances:
    """A lazy iterable of (utt, prepared features [T, D]) of some utterances of a reader.
    Utterances with fewer than `warn_frames` prepared frames are logged and listed in
    `.short` (they are repeat-padded to the network's input, which training never saw)."""

    def __init__(self, reader: FeatureReader, utts: list[str], warn_frames: int = 0):
        self.reader, self.utts, self.warn_frames = reader, utts, int(warn_frames)
        self.short: list[str] = []

    def __len__(self) -> int:
        return len(self.utts)

    def __iter__(self):
        for utt in self.utts:
            feats = self.reader.get(utt)
            if len(feats) < self.warn_frames:
                path, line = self.reader.where(utt)
                log.warning("%s:%s: '%s' has only %d frames, fewer than the %d that "
                            "training required (data.min_frames); its score is unreliable",
                            path, line, utt, len(feats), self.warn_frames)
                self.short.append(utt)
            yield utt, feats

    def summary(self) -> str:
        """', N shorter than M frames' for a log line ('' when none was)."""
        return (f", {len(self.short)} shorter than {self.warn_frames} frames (warned)"
                if self.short else "")


def prepared_utterances(data_dir, cmn_window: int, utts: list[str] | None = None,
                        nj: int = 1, job: int = 1, *, model_info: dict | None = None,
                        model_path=None) -> JobUtterances:
    """A lazy iterable of (utt, prepared features [T, D]) for `utts` (default: the `job`-th
    of `nj` blocks of `data_dir`/feats.scp). The tables are read (and checked) now; with
    `model_info` (load_model's info) so are the model's feature config and the dimension of
    the first utterance, and short utterances are warned about."""
    reader = FeatureReader(data_dir, cmn_window=cmn_window, keep_unvoiced=True)
    utts = job_slice(reader.utts, nj, job) if utts is None else utts
    if model_info is None:
        return JobUtterances(reader, utts)
    check_model_features(model_info, model_path)
    if utts:
        check_data_features(model_info, model_path, reader, utts[0])
    reader.dim = int(model_info["feat_dim"])
    reader.dim_owner = feature_owner(model_info, model_path)
    min_frames = int(((model_info.get("config") or {}).get("data") or {}).get("min_frames", 0))
    return JobUtterances(reader, utts, warn_frames=min_frames)


def add_job_arguments(p) -> None:
    """Options shared by the per-job inference commands (infer, extract-embeddings)."""
    p.add_argument("--nj", type=int, default=1, help="number of parallel jobs")
    p.add_argument("--job", type=int, default=1, help="which job (1..nj) this is")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda[:N]")
    add_num_threads_argument(p)
    p.add_argument("model", help="exp/<sys>/final.pt")
    p.add_argument("data_dir", help="data dir with feats.scp (and vad.scp)")


def open_job(args):
    """Load the model of `args.model` and this job's share of `args.data_dir`: returns
    (model, info, device, JobUtterances). The features' dimension is checked against the
    model here, before any forward pass. `info["classes"]` is the model's label list."""
    from lidtool.train.checkpoint import load_model
    from lidtool.train.distributed import pick_device
    device = pick_device(args.device)
    model, info = load_model(args.model, device)
    cmn = int((info.get("features") or {}).get("cmn_window", 300))
    return model, info, device, prepared_utterances(args.data_dir, cmn, nj=args.nj,
                                                    job=args.job, model_info=info,
                                                    model_path=args.model)


def add_more_pairs_argument(p, out_name: str) -> None:
    """`[DATA_DIR OUT ...]` after the first pair: one process scores several data dirs, so
    that the start-up (python + torch imports, about a second) is paid once per job."""
    p.add_argument("more", nargs="*", metavar=f"DATA_DIR {out_name}",
                   help=f"more data dirs, each followed by its {out_name}")


def job_pairs(args, out_attr: str) -> list[tuple[str, str]]:
    """[(data_dir, output)] of the command line: the first pair, then `args.more`."""
    from lidtool.errors import ConfigError
    if len(args.more) % 2:
        raise ConfigError(args.more[-1], "more data dirs must come in pairs "
                          "'DATA_DIR OUTPUT'; this one has no output")
    more = list(zip(args.more[::2], args.more[1::2]))
    return [(args.data_dir, getattr(args, out_attr)), *more]


def open_each_job(args, out_attr: str):
    """Yield (data_dir, output, open_job's tuple) for every pair of the command line."""
    import argparse
    for data_dir, out in job_pairs(args, out_attr):
        yield data_dir, out, open_job(argparse.Namespace(**{**vars(args), "data_dir": data_dir}))
