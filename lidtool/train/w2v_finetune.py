"""`train.strategy: w2v_finetune`: LID fine-tuning of a `model.name: w2v_lid` network.

The training step is the plain strategy's (cross-entropy on `sampler.name` batches). The
one difference is the encoder's log-mel normalisation: a pretrained encoder brings its
`feat_mean` / `feat_std` through model.init, but a network trained from scratch would
start from the identity; so, at step 0 and only without model.init, the statistics are set
from `w2v.stats_utts` training utterances exactly as pretraining sets them
(lidtool.train.w2v_pretrain.feature_stats). They are buffers of the model, so checkpoints,
resumes and final.pt carry them.
"""
from __future__ import annotations

import logging

from lidtool.errors import ConfigError
from lidtool.nnet.w2v_lid import W2VBackbone
from lidtool.train.strategies import PlainStrategy, register_strategy

log = logging.getLogger(__name__)


@register_strategy
class W2VFinetuneStrategy(PlainStrategy):
    name = "w2v_finetune"
    sections = {"w2v": {"stats_utts": 500}}

    def setup(self) -> None:
        backbone = getattr(self.t.model, "backbone", None)
        if not isinstance(backbone, W2VBackbone):
            raise ConfigError(self.t.source, "train.strategy=w2v_finetune needs model.name: "
                              f"w2v_lid, not '{self.cfg['model']['name']}'")
        if int(self.cfg["w2v"]["stats_utts"]) < 1:
            raise ConfigError(self.t.source, "w2v.stats_utts must be a positive integer")
        super().setup()

    def before_step(self, step: int) -> None:
        t = self.t
        if step != 0 or self.cfg["model"].get("init"):
            return
        # imported here: w2v_pretrain and this module are both imported by strategies.py
        from lidtool.train.w2v_pretrain import feature_stats
        count = int(self.cfg["w2v"]["stats_utts"])
        mean, std = feature_stats(t.data, count, int(self.cfg["train"]["seed"]))
        t.model.backbone.encoder.set_feature_stats(mean, std)
        if t.wma is not None:
            t.reset_wma()
        log.info("no model.init: feature normalisation from %d training utterances",
                 min(len(t.data), count))
