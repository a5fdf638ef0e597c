"""Initialise an i-vector extractor (random total-variability matrix) from a full UBM."""
from lidtool.errors import CheckpointError
from lidtool.ivector.config import add_config_args, config_from_args
from lidtool.ivector.extractor import IvectorExtractor
from lidtool.ivector.gmm import FullGmm, load_gmm


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--ubm", required=True, help="full-covariance UBM (final.ubm)")
    p.add_argument("--out", required=True, help="extractor to write, e.g. exp/extractor/0.ie")


def main(args):
    cfg = config_from_args(args)
    e = cfg.extractor
    ubm = load_gmm(args.ubm)
    if not isinstance(ubm, FullGmm):
        raise CheckpointError(args.ubm, "is a diagonal UBM; the extractor needs the full one",
                              fix="use the final.ubm of steps/train_ubm.sh")
    IvectorExtractor.init_from_ubm(ubm, e.ivector_dim, scale=e.init_scale, seed=e.seed,
                                   num_gselect=e.num_gselect, min_post=e.min_post,
                                   posterior_scale=e.posterior_scale).save(args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
