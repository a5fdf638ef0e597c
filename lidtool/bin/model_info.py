"""Show what a trained model file knows: classes, features, network, training run.

    lidtool model-info exp/<sys>/final.pt [--json]

Prints the classes (and the table they came from), the feature pipeline saved for
`lidtool identify` (feature type and options, VAD, CMN window), the network and its size,
the training config, and the training command and data dir when the exp dir beside the
model still has run.cmd (steps/train_nnet.sh writes it).
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument("model", help="exp/<sys>/final.pt")


def training_run(model_path) -> dict:
    """The last training command recorded beside the model (exp/<sys>/run.cmd), if any."""
    run_cmd = Path(model_path).parent / "run.cmd"
    if not run_cmd.is_file():
        return {}
    commands = [line for line in run_cmd.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    if not commands:
        return {}
    line = commands[-1]
    out = {"command": line}
    try:
        words = shlex.split(line.split("&&", 1)[-1])
    except ValueError:
        return out
    positional = [w for i, w in enumerate(words[1:], 1)
                  if not w.startswith("--") and not words[i - 1].startswith("--")]
    if len(positional) >= 3:          # <config> <train-data-dir> <exp-dir>
        out["config"], out["train_data"] = positional[-3], positional[-2]
    return out


def describe(model_path) -> dict:
    from lidtool.train.checkpoint import load_model
    model, info = load_model(model_path, "cpu")
    feats = info.get("features") or {}
    fcfg = feats.get("feature_config") or {}
    return {
        "model": str(model_path),
        "kind": info["kind"],
        "classes": list(info["classes"]),
        "label_table": info["label_table"],
        "feat_dim": info["feat_dim"],
        "features": {"type": fcfg.get("type"), "sample_rate": fcfg.get("sample_rate"),
                     "options": fcfg, "vad": feats.get("vad_config"),
                     "cmn_window": feats.get("cmn_window")},
        "network": {"name": info["config"]["model"].get("name"),
                    "head": info["config"]["head"].get("name"),
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "min_frames": int(model.min_frames),
                    "embedding_layer": model.embedding_layer},
        "training": training_run(model_path),
        "config": info["config"],
    }


def main(args):
    d = describe(args.model)
    if args.json:
        print(json.dumps(d, indent=1, sort_keys=True))
        return 0
    f, net, run = d["features"], d["network"], d["training"]
    print(f"model:        {d['model']} ({d['kind']})")
    print(f"classes:      {len(d['classes'])} from {d['label_table']}: {' '.join(d['classes'])}")
    if f["type"]:
        print(f"features:     {f['type']}, {d['feat_dim']}"
              f"-dim, {f['sample_rate']} Hz, CMN window {f['cmn_window']}, "
              f"VAD {'on' if f['vad'] else 'off'}")
    else:
        print(f"features:     {d['feat_dim']}-dim, no feature config saved (identify on raw "
              "audio is not possible; train with --feat-config)")
    print(f"network:      {net['name']} + {net['head']} head, {net['parameters']:,} parameters, "
          f"needs >= {net['min_frames']} frames, embeddings at {net['embedding_layer']}")
    if run.get("train_data"):
        print(f"trained on:   {run['train_data']} with {run['config']}")
    if run:
        print(f"command:      {run['command']}")
    print("config:")
    for section, values in sorted(d["config"].items()):
        if isinstance(values, dict) and section != "mini":
            print(f"  {section}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
