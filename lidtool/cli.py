"""`lidtool <subcommand>`: one thin entry point per module in lidtool/bin/.

A module `lidtool/bin/foo_bar.py` becomes `lidtool foo-bar`. It provides a docstring (its
first line is the one-line help), `add_arguments(parser)` and `main(args)`. Subcommands are
discovered, not listed, so adding an action is adding one file.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import logging
import pkgutil
import sys

from lidtool.errors import LidtoolError
from lidtool.threads import apply_num_threads

import lidtool.bin as _bin_pkg


def _subcommands() -> dict[str, str]:
    names = {}
    for info in pkgutil.iter_modules(_bin_pkg.__path__):
        if not info.name.startswith("_"):
            names[info.name.replace("_", "-")] = f"lidtool.bin.{info.name}"
    return dict(sorted(names.items()))


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def _docstring(modname: str) -> str | None:
    """A subcommand's docstring read from its source: importing all of them (torch, scipy...)
    would make `lidtool --help` take seconds."""
    spec = importlib.util.find_spec(modname)
    try:
        with open(spec.origin, encoding="utf-8") as f:
            return ast.get_docstring(ast.parse(f.read()))
    except (OSError, SyntaxError, TypeError):
        return importlib.import_module(modname).__doc__


def build_parser(module, prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=(module.__doc__ or "").strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="logging verbosity")
    module.add_arguments(parser)
    return parser


def run_module(module, argv: list[str], prog: str) -> int:
    """Parse `argv` for `module` and run it, turning LidtoolError into `ERROR: ...`, exit 1."""
    args = build_parser(module, prog).parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # before the command imports torch, so that its thread pool starts at this size
    apply_num_threads(getattr(args, "num_threads", None))
    try:
        rc = module.main(args)
    except LidtoolError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    return int(rc or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _subcommands()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: lidtool <subcommand> [options]   (lidtool <subcommand> --help)\n")
        print("subcommands:")
        for name, modname in commands.items():
            doc = _first_line(_docstring(modname))
            print(f"  {name:24s} {doc}")
        return 0 if argv else 2
    name = argv[0]
    if name not in commands:
        print(f"ERROR: unknown subcommand '{name}'; run `lidtool --help` for the list",
              file=sys.stderr)
        return 2
    module = importlib.import_module(commands[name])
    return run_module(module, argv[1:], prog=f"lidtool {name}")


def module_entry(modname: str) -> None:
    """For `python -m lidtool.bin.x`: `if __name__ == '__main__': module_entry(__name__)`."""
    module = sys.modules[modname]
    short = module.__spec__.name.rsplit(".", 1)[-1].replace("_", "-") if module.__spec__ else modname
    sys.exit(run_module(module, sys.argv[1:], prog=f"lidtool {short}"))


if __name__ == "__main__":
    sys.exit(main())
