"""Initialise a diagonal GMM-UBM by splitting, from a random subset of a data dir's frames."""
import logging

from lidtool.errors import ConfigError
from lidtool.ivector.config import add_config_args, config_from_args
from lidtool.ivector.feats import iter_utterance_features
from lidtool.ivector.ubm import init_diag_ubm, sample_frames

log = logging.getLogger(__name__)


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--data", required=True, help="data dir with feats.scp (and vad.scp)")
    p.add_argument("--out", required=True, help="output diagonal UBM, e.g. exp/ubm/0.dubm")


def main(args):
    cfg = config_from_args(args)
    u = cfg.ubm
    utts = iter_utterance_features(args.data, cmn_window=cfg.features.cmn_window,
                                   use_vad=cfg.features.use_vad,
                                   progress="init frames")
    frames = sample_frames(utts, u.num_frames_init, seed=u.seed)
    log.info("initialising %d diagonal Gaussians from %d frames of dim %d",
             u.num_components, frames.shape[0], frames.shape[1])
    try:
        gmm = init_diag_ubm(frames, u.num_components, iters_per_split=u.num_iters_init,
                            var_floor=u.var_floor, seed=u.seed)
    except ValueError as err:
        raise ConfigError(cfg.path, f"ubm.num_components={u.num_components}: {err}",
                          fix="use fewer components or more data") from None
    gmm.save(args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
