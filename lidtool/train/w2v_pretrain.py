"""wav2vec 2.0 self-supervised pretraining (`train.strategy: w2v_pretrain`, `model.name:
wav2vec2`; METHODS.md section 4).

No labels (`data.label_table: none`). Each step is one batch of the `main` sampler: random
crops of `data.min_chunk`..`data.max_chunk` log-mel frames (after VAD, like every system)
through the pretraining module (lidtool.nnet.w2v_pretrain): masked-step contrastive loss +
diversity_weight * diversity (+ feature_penalty * mean(Z^2)). Multilingual batches: with
`data.group_table: utt2lang` and `sampler.name: alpha`, a language is drawn with
p_l proportional to n_l ** alpha (n_l: its utterances; `sampler.alpha` 0.5 = the paper's
(n_l / N) ** 0.5), then one of its utterances.

Normalisation: at step 0 (after `model.init`) the encoder's `feat_mean` / `feat_std` are set
from the frames of `w2v.stats_utts` training utterances (chosen with train.seed); they are
model buffers, so checkpoints and final.pt hold them and a resumed run keeps them. They are
taken from the prepared frames the chunks come from: with `data.cmn_window: 0` (the paper's
set-up) this global normalisation is the only one.
The Gumbel temperature follows the step (the quantiser's `num_updates`, set before each step).
Masks and distractors come from a generator seeded by (train.seed, step, rank), never the
global RNG, and dropout and Gumbel noise from the torch RNG seeded from it for the step (the
global state is restored afterwards), so a resumed run draws the same ones.

Logged: loss, contrastive, diversity, feature_penalty, prob_perplexity, code_perplexity,
acc (contrastive accuracy), temperature, masked (fraction of steps masked); with
`data.valid_dir` (no labels needed) also valid_loss / valid_acc of the contrastive task on
fixed crops and masks (ContrastiveValidator).

final.pt is a "w2v_encoder" artifact: "model" holds the encoder's weights under their names
in the pretraining module (`encoder.*`, so `model.init: {path: final.pt}` fills a model whose
encoder attribute is `encoder`), "encoder_config" the Wav2Vec2Config (a dict) and, as in
every final.pt, "features" the feature and VAD configs. The quantiser and the final
projection stay in the checkpoints (ckpt-*.pt) only.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from lidtool.errors import CheckpointError, ConfigError
from lidtool.nnet.w2v_pretrain import Wav2Vec2Pretrain
from lidtool.nnet.wav2vec2 import Wav2Vec2Config, Wav2Vec2Encoder
from lidtool.train.data import load_train_data
from lidtool.train.labels import NO_LABELS
from lidtool.train.strategies import Strategy, register_strategy
from lidtool.train.validation import Validator

log = logging.getLogger(__name__)
ENCODER_KIND = "w2v_encoder"
_MASK_STREAM = 0x773276   # keeps the mask generator apart from other (seed, step) streams


def feature_stats(data, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation over the frames of `count` utterances of
    `data` (all if fewer), chosen with `seed`."""
    n = len(data)
    picks = np.sort(np.random.default_rng([seed, 5]).permutation(n)[:min(count, n)])
    total = np.zeros(data.feat_dim)
    square = np.zeros(data.feat_dim)
    frames = 0
    for i in picks:
        x = np.asarray(data.get(int(i)), dtype=np.float64)
        total += x.sum(axis=0)
        square += (x * x).sum(axis=0)
        frames += len(x)
    mean = total / frames
    var = np.maximum(square / frames - mean * mean, 0.0)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


@register_strategy
class W2VPretrainStrategy(Strategy):
    name = "w2v_pretrain"
    needs_classes = False
    sections = {"w2v": {"stats_utts": 500}}

    @classmethod
    def num_outputs(cls, data) -> int:
        return 0

    def setup(self) -> None:
        t = self.t
        if not isinstance(t.model, Wav2Vec2Pretrain):
            raise ConfigError(t.source, f"train.strategy=w2v_pretrain needs model.name: "
                              f"wav2vec2, not '{self.cfg['model']['name']}'")
        c = t.model.config
        steps = int(self.cfg["data"]["min_chunk"]) // c.stack
        if steps < 2 * c.mask_length:
            raise ConfigError(t.source, f"data.min_chunk={self.cfg['data']['min_chunk']} "
                              f"frames are {steps} steps of {c.stack} frames, too few for "
                              f"masked spans of {c.mask_length} steps",
                              fix=f"set data.min_chunk >= {2 * c.mask_length * c.stack}")
        if int(self.cfg["w2v"]["stats_utts"]) < 1:
            raise ConfigError(t.source, "w2v.stats_utts must be a positive integer")
        super().setup()

    def heads(self) -> list:
        return []

    def validator(self):
        d = self.cfg["data"]
        if not d["valid_dir"]:
            return None
        valid = load_train_data(d["valid_dir"], [], cmn_window=int(d["cmn_window"]),
                                min_frames=int(d["min_frames"]), label_table=NO_LABELS)
        return ContrastiveValidator(valid, int(d["max_chunk"]),
                                    int(self.cfg["train"]["batch_size"]), self.t.device)

    def before_step(self, step: int) -> None:
        t = self.t
        if step == 0:
            mean, std = feature_stats(t.data, int(self.cfg["w2v"]["stats_utts"]),
                                      int(self.cfg["train"]["seed"]))
            t.model.encoder.set_feature_stats(mean, std)
            if t.wma is not None:
                t.reset_wma()
            log.info("feature normalisation from %d utterances: mean %.3g..%.3g, std "
                     "%.3g..%.3g", min(len(t.data), int(self.cfg["w2v"]["stats_utts"])),
                     mean.min(), mean.max(), std.min(), std.max())
        t.model.set_num_updates(step)

    def train_step(self, step: int) -> dict:
        model, device = self.t.model, self.t.device
        model.train()
        rng = np.random.default_rng([int(self.cfg["train"]["seed"]), step,
                                     self.t.dist.rank, _MASK_STREAM])

        def loss_fn(x, y):
            torch.manual_seed(int(rng.integers(2 ** 62)))
            out = model(x, None, rng)
            return out["loss"], {k: float(v.detach()) if hasattr(v, "detach") else float(v)
                                 for k, v in out.items()}
        # Dropout and Gumbel noise draw from the torch RNG: it is seeded from (seed, step, rank)
        # once the batch is loaded (a resumed run's data loader takes a torch random number
        # when it starts) and the global state is restored after the step.
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda, device_type=device.type):
            return self.t.update("main", loss_fn)

    def artifact(self, weights: dict) -> dict:
        encoder = {k: v for k, v in weights.items() if k.startswith("encoder.")}
        return {"kind": ENCODER_KIND, "model": encoder,
                "encoder_config": self.t.model.config.to_dict()}


class ContrastiveValidator(Validator):
    """The contrastive task on the first `data.max_chunk` frames of each validation
    utterance, in eval mode (no dropout, no Gumbel noise: argmax codewords) with the same
    masks and distractors at every evaluation (a fixed generator), so values are comparable
    across steps: valid_loss (contrastive), valid_acc."""

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module) -> dict:
        state = torch.get_rng_state()
        was_training = model.training
        model.eval()
        rng = np.random.default_rng(_MASK_STREAM)
        total, correct, count = 0.0, 0.0, 0
        try:
            for x, _ in self._batches():
                out = model(x, None, rng)
                total += float(out["contrastive"]) * len(x)
                correct += float(out["acc"]) * len(x)
                count += len(x)
        finally:
            model.train(was_training)
            torch.set_rng_state(state)
        return {"valid_loss": round(total / count, 6), "valid_acc": round(correct / count, 6)}


def load_encoder(path, device="cpu") -> tuple[Wav2Vec2Encoder, dict]:
    """(encoder in eval mode, info) of a w2v_encoder final.pt."""
    from lidtool.train.checkpoint import MODEL_FORMAT, load_file
    info = load_file(path, MODEL_FORMAT)
    if info.get("kind") != ENCODER_KIND or "encoder_config" not in info:
        raise CheckpointError(path, f"holds a '{info.get('kind', 'classifier')}', not a "
                              f"wav2vec 2.0 encoder ({ENCODER_KIND})")
    encoder = Wav2Vec2Encoder(Wav2Vec2Config.from_dict(info["encoder_config"]))
    weights = {k[len("encoder."):]: v for k, v in info["model"].items()}
    try:
        encoder.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(path, f"weights do not fit its encoder_config: "
                              f"{str(err).splitlines()[0]}") from None
    return encoder.to(device).eval(), info
