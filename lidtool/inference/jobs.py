"""One inference job over a data dir: its share of the utterances, their prepared features,
and the command-line options that `lidtool infer` and `extract-embeddings` share.

Features come from `lidtool.features.reader.FeatureReader` (as in training); an utterance
whose VAD marks no frame as voiced is scored on all its frames with a warning, because a
score file must cover every utterance.
"""
from __future__ import annotations


from lidtool.features.reader import FeatureReader
from lidtool.threads import add_num_threads_argument


def job_slice(utts: list[str], nj: int, job: int) -> list[str]:
    """Contiguous block `job` (1-based) of `nj` blocks of the sorted utterance list."""
    if not 1 <= job <= nj:
        raise ValueError(f"job {job} is not in 1..{nj}")
    n = len(utts)
    return utts[(job - 1) * n // nj: job * n // nj]


def prepared_utterances(data_dir, cmn_window: int, utts: list[str] | None = None,
                        nj: int = 1, job: int = 1):
    """A lazy iterator of (utt, prepared features [T, D]) for `utts` (default: the `job`-th
    of `nj` blocks of `data_dir`/feats.scp). The tables are read (and checked) now."""
    reader = FeatureReader(data_dir, cmn_window=cmn_window, keep_unvoiced=True)
    utts = job_slice(reader.utts, nj, job) if utts is None else utts
    return ((utt, reader.get(utt)) for utt in utts)


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
    (model, info, device, a lazy iterator of (utt, prepared features)).
    `info["classes"]` is the model's label list."""
    from lidtool.train.checkpoint import load_model
    from lidtool.train.distributed import pick_device
    device = pick_device(args.device)
    model, info = load_model(args.model, device)
    cmn = int((info.get("features") or {}).get("cmn_window", 300))
    return model, info, device, prepared_utterances(args.data_dir, cmn, nj=args.nj,
                                                    job=args.job)


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
