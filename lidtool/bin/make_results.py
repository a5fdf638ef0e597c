"""Write a recipe's RESULTS.md: score every (system, test set) named in a results spec YAML."""
import datetime
import json
import subprocess
from pathlib import Path

from lidtool.errors import LidtoolError
from lidtool.metrics.results import load_specs, write_results


def add_arguments(p):
    p.add_argument("spec", help="YAML with a 'tables' list and/or an 'include' list of other "
                   "such specs (see egs/synth_lid/conf/results.yaml)")
    p.add_argument("out", help="markdown file to write, e.g. RESULTS.md")
    p.add_argument("--root", default=".", help="directory the spec's paths are relative to")
    p.add_argument("--command", default="",
                   help="the command(s) that produced the run, one per line")
    p.add_argument("--title", default="Results")
    p.add_argument("--preamble", default="", help="file whose text goes under the title")
    p.add_argument("--epilogue", default="",
                   help="file whose text goes after the tables (e.g. a reading of the run)")
    p.add_argument("--json", default="", help="also write every metric as JSON here")
    p.add_argument("--dirs", nargs="*", default=[], metavar="NAME=DIR",
                   help="values of the spec's directory placeholders, e.g. exp=exp_mini "
                        "data=data_mini: every {name} the spec's paths use other than "
                        "{system} / {condition} (an unknown one is an error)")


def _git_commit(root: Path) -> str:
    r = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def _parse_dirs(items: list[str]) -> dict[str, str]:
    dirs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise LidtoolError(f"--dirs takes NAME=DIR items, not '{item}'")
        dirs[name] = value
    return dirs


def main(args):
    specs = load_specs(args.spec)
    root = Path(args.root)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    header = [f"# {args.title}", "",
              f"Written by the scoring stage on {stamp} (lidtool commit {_git_commit(root)}); "
              "every number below is computed from score files of a real run.", ""]
    if args.command:
        lines = [c for c in args.command.splitlines() if c.strip()]
        header += ["Produced by" + (" (these invocations, in order):" if len(lines) > 1
                                   else ":"), ""]
        header += [f"    {c}" for c in lines] + [""]
    if args.preamble:
        header += [Path(args.preamble).read_text().rstrip(), ""]
    dirs = _parse_dirs(args.dirs)
    footer = Path(args.epilogue).read_text() if args.epilogue else ""
    results = write_results(specs, root, args.out, header="\n".join(header), dirs=dirs,
                            footer=footer)
    if args.json:
        from lidtool.fileio import write_text_atomic
        write_text_atomic(args.json, json.dumps(results, indent=1, default=str))
    print(Path(args.out).read_text())


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
