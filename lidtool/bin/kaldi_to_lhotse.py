"""Write lhotse manifests (recordings, supervisions with language, and cuts) from a Kaldi data dir."""
from pathlib import Path

from lidtool.data.lhotse_io import data_dir_to_cuts, data_dir_to_manifests
from lidtool.fileio import atomic_path


def add_arguments(p):
    p.add_argument("data_dir")
    p.add_argument("out_dir")
    p.add_argument("--prefix", default="", help="manifest file prefix, e.g. 'train_'")


def main(args):
    recordings, supervisions = data_dir_to_manifests(args.data_dir)
    cuts = data_dir_to_cuts(args.data_dir)
    out = Path(args.out_dir)
    for name, manifest in (("recordings", recordings), ("supervisions", supervisions),
                           ("cuts", cuts)):
        target = out / f"{args.prefix}{name}.jsonl.gz"
        with atomic_path(target) as tmp:
            manifest.to_file(tmp + ".jsonl.gz")
            Path(tmp + ".jsonl.gz").replace(tmp)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
