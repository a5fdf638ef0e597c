"""Score speaker-verification trials (cosine or LDA+PLDA, optional AS-norm): EER, minDCF, DET.

    lidtool score-trials --trials TRIALS --enrol-embeddings SCP --test-embeddings SCP
        [--enrol-map FILE] [--backend cosine|plda] [--mean-from SCP]
        [--train-embeddings SCP --train-utt2spk FILE] [--lda-dim 200] [--plda-iters 10]
        [--save-backend FILE | --load-backend FILE]
        [--asnorm-cohort SCP [--asnorm-cohort-utt2spk FILE] --asnorm-top 300]
        [--scores FILE] [--metrics FILE.json] [--det FILE.png]

TRIALS: `<enrol> <test> target|nontarget` per line (VoxCeleb1-O / Kaldi style), or
`<enrol> <test>` to score without keys. Embeddings: Kaldi vector scp files, e.g. the
xvector.scp of `lidtool extract-embeddings`. --enrol-map lines `<enrol_id> <utt> [<utt>...]`
make enrolment models from several utterances (without it enrolment ids are utterances).
cosine: optional mean subtraction (--mean-from: the mean of that embedding set), unit length,
dot product. plda: LDA (--lda-dim; 0 = none) -> length norm -> two-covariance PLDA trained
on --train-embeddings / --train-utt2spk; scores are log-likelihood ratios. --save-backend
writes the trained back-end (an .npz), --load-backend scores with it without training; with
--save-backend and no --trials the command only trains. AS-norm: cohort scores of both sides
of each trial, top --asnorm-top of them; --asnorm-cohort-utt2spk averages the cohort per
speaker first. Outputs: --scores `<enrol> <test> <score>` in trial order; --metrics JSON:
eer, min_dcf (p_target 0.05, 0.01, 0.001; C_miss = C_fa = 1) as fractions, counts, and the
raw scores' metrics under "raw" when AS-norm is on; --det a DET curve PNG (probit axes).
"""
from __future__ import annotations

import logging

log = logging.getLogger("lidtool.score_trials")


def add_arguments(p):
    g = p.add_argument_group("trials and embeddings")
    g.add_argument("--trials", help="trial list: <enrol> <test> [target|nontarget]")
    g.add_argument("--enrol-embeddings", metavar="SCP", help="enrolment embeddings (scp)")
    g.add_argument("--test-embeddings", metavar="SCP", help="test embeddings (scp)")
    g.add_argument("--enrol-map", metavar="FILE",
                   help="<enrol_id> <utt> [<utt> ...]: models averaged over utterances")
    g = p.add_argument_group("back-end")
    g.add_argument("--backend", choices=["cosine", "plda"], default=None,
                   help="scoring back-end (default: cosine, or the --load-backend file's)")
    g.add_argument("--mean-from", metavar="SCP",
                   help="cosine: subtract the mean of these embeddings (e.g. training set)")
    g.add_argument("--train-embeddings", metavar="SCP", help="plda: training embeddings")
    g.add_argument("--train-utt2spk", metavar="FILE", help="plda: speakers of the training "
                   "embeddings")
    g.add_argument("--lda-dim", type=int, default=200,
                   help="plda: LDA dimension before PLDA, 0 for none (default: 200)")
    g.add_argument("--plda-iters", type=int, default=10, help="plda: EM iterations (10)")
    g.add_argument("--save-backend", metavar="FILE", help="write the trained back-end here")
    g.add_argument("--load-backend", metavar="FILE", help="score with this saved back-end")
    g = p.add_argument_group("AS-norm")
    g.add_argument("--asnorm-cohort", metavar="SCP", help="cohort embeddings: turns AS-norm on")
    g.add_argument("--asnorm-cohort-utt2spk", metavar="FILE",
                   help="average the cohort per speaker of this utt2spk")
    g.add_argument("--asnorm-top", type=int, default=300,
                   help="number of top cohort scores per side (default: 300)")
    g = p.add_argument_group("outputs")
    g.add_argument("--scores", metavar="FILE", help="write <enrol> <test> <score> lines")
    g.add_argument("--metrics", metavar="JSON", help="write EER/minDCF/counts as JSON")
    g.add_argument("--det", metavar="PNG", help="write a DET curve")
    g.add_argument("--det-title", default="", help="title of the DET plot")


def get_backend(args):
    """Load (--load-backend) or train the back-end the options describe; save it if asked."""
    from lidtool.backend.vectors import labels_for, read_vectors
    from lidtool.backend.verification import SvBackend
    from lidtool.errors import ConfigError

    if args.load_backend:
        for opt in ("mean_from", "train_embeddings", "train_utt2spk"):
            if getattr(args, opt):
                raise ConfigError(f"--{opt.replace('_', '-')}", "trains a back-end; it cannot "
                                  "be combined with --load-backend")
        be = SvBackend.load(args.load_backend)
        if args.backend and args.backend != be.kind:
            raise ConfigError(args.load_backend, f"holds a {be.kind} back-end, but --backend "
                              f"is {args.backend}", fix=f"drop --backend or give {be.kind}")
    elif (args.backend or "cosine") == "cosine":
        if args.train_embeddings or args.train_utt2spk:
            raise ConfigError("--train-embeddings", "is for --backend plda",
                              fix="use --mean-from for the cosine back-end's mean")
        mean = None
        if args.mean_from:
            mean = read_vectors(args.mean_from)[1].mean(0)
        be = SvBackend.cosine(mean)
    else:
        if args.mean_from:
            raise ConfigError("--mean-from", "is for --backend cosine (PLDA centres with its "
                              "LDA's training mean)")
        if not (args.train_embeddings and args.train_utt2spk):
            raise ConfigError("--backend", "plda needs --train-embeddings and --train-utt2spk "
                              "(or --load-backend)")
        if args.lda_dim < 0:
            raise ConfigError("--lda-dim", f"must be >= 0 (0: no LDA), got {args.lda_dim}")
        if args.plda_iters < 1:
            raise ConfigError("--plda-iters", f"must be >= 1, got {args.plda_iters}")
        utts, X = read_vectors(args.train_embeddings)
        speakers = labels_for(utts, args.train_utt2spk, what="speaker")
        be = SvBackend.train_plda(X, speakers, lda_dim=args.lda_dim, iters=args.plda_iters,
                                  where=args.train_embeddings)
        log.info("trained PLDA on %d embeddings of %d speakers (LDA dim %s)", len(utts),
                 be.info["train_speakers"], be.info["lda_dim"])
    if args.save_backend:
        be.save(args.save_backend)
        log.info("saved the %s back-end -> %s", be.kind, args.save_backend)
    return be


def main(args):
    from lidtool.backend import trial_scoring as ts
    from lidtool.errors import ConfigError
    from lidtool.fileio import write_text_atomic
    from lidtool.metrics.trials import read_trials, verification_metrics, write_trial_scores

    if not args.trials:
        if not args.save_backend:
            raise ConfigError("--trials", "nothing to do: give --trials to score, or "
                              "--save-backend to only train a back-end")
        get_backend(args)
        return 0
    for opt in ("enrol_embeddings", "test_embeddings"):
        if not getattr(args, opt):
            raise ConfigError(f"--{opt.replace('_', '-')}", "is required with --trials")
    if args.asnorm_cohort_utt2spk and not args.asnorm_cohort:
        raise ConfigError("--asnorm-cohort-utt2spk", "needs --asnorm-cohort")
    trials = read_trials(args.trials)
    if args.metrics or args.det:
        is_target = trials.require_keys("--metrics/--det")
    be = get_backend(args)
    enrol = ts.Embeddings.read(args.enrol_embeddings)
    test = enrol if args.test_embeddings == args.enrol_embeddings \
        else ts.Embeddings.read(args.test_embeddings)
    enrol_map = ts.read_enrol_map(args.enrol_map, enrol) if args.enrol_map else None
    groups = ts.enrol_groups(trials, enrol, enrol_map)
    if args.asnorm_cohort:
        cohort = ts.cohort_models(be, ts.Embeddings.read(args.asnorm_cohort),
                                  args.asnorm_cohort_utt2spk)
        if not 2 <= args.asnorm_top <= len(cohort[0]):
            raise ConfigError("--asnorm-top", f"{args.asnorm_top} is not between 2 and the "
                              f"cohort size {len(cohort[0])}", fix="lower --asnorm-top")
        raw, scores = ts.asnorm_trials(be, trials, enrol, test, groups, cohort,
                                       args.asnorm_top)
    else:
        raw, scores = None, ts.score_trials(be, trials, enrol, test, groups)
    system = be.kind if raw is None else f"{be.kind} + AS-norm"
    metrics = None
    if args.metrics or args.det:
        metrics = verification_metrics(scores, is_target)
        metrics.update(backend=be.kind, backend_info=be.info, trials=args.trials,
                       n_enrol_models=len(groups), asnorm_top=None)
        if raw is not None:
            metrics.update(asnorm_top=args.asnorm_top, cohort_size=len(cohort[0]),
                           raw=verification_metrics(raw, is_target))
    if args.scores:
        write_trial_scores(args.scores, trials, scores)
    if args.metrics:
        import json
        write_text_atomic(args.metrics, json.dumps(metrics, indent=1) + "\n")
    if args.det:
        from lidtool.metrics.plot import write_det_png
        curves = {}
        if raw is not None:
            curves[be.kind] = (raw[is_target], raw[~is_target])
        curves[system] = (scores[is_target], scores[~is_target])
        write_det_png(args.det, curves, title=args.det_title)
    if metrics:
        log.info("%d trials, %s: EER %.2f%%, minDCF(0.01) %.4f", len(trials), system,
                 100 * metrics["eer"], metrics["min_dcf"]["0.01"])
    else:
        log.info("scored %d trials with %s", len(trials), system)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
