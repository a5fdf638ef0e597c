r"""Kaldi's run.pl calling convention: parse `[options] [VAR=a:b] LOG command args...`.

    $cmd [--mem 4G] [--num-threads N] [--max-jobs-run M] [--gpu G] JOB=1:N exp/log/x.JOB.log cmd args
    $cmd exp/log/x.log cmd args                      (a single job)

`JOB` (or any `VAR=a:b` name) is replaced, as plain text like run.pl does, in the log name
and in every argument. The command is run by bash. Arguments reach the program exactly as
given, except bare shell syntax, which stays shell syntax as with run.pl: an argument with
whitespace, quotes, `$`, a backquote or a backslash is single-quoted; any other argument goes
to bash bare, so `\|`, `\>`, `2\>\&1` or `\;` on the caller's command line act as pipes,
redirections and separators, while words like ark:foo.ark or --opt=3 are unaffected. A command
given as ONE argument (`$cmd log "a | b > c"`) is taken as a whole shell command line.
"""
from __future__ import annotations

import re
import shlex
import signal
import sys
from dataclasses import dataclass, field

from lidtool.errors import LidtoolError

_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$")
_MEM = re.compile(r"^\d+(\.\d+)?[KMGTkmgt]?$")
_NEEDS_QUOTES = re.compile(r"[\s'\"$`\\]")
_OPTIONS = ("mem", "num-threads", "max-jobs-run", "gpu")

USAGE = ("usage: {prog} [--mem X] [--num-threads N] [--max-jobs-run M] [--gpu G] "
         "[JOB=1:N] <log-file> <command> [args...]\n"
         "  e.g. {prog} --num-threads 2 JOB=1:4 exp/log/feats.JOB.log "
         "lidtool compute-feats data/train/split4/JOB")


class JobError(LidtoolError):
    """The job command line is malformed, or the jobs could not be submitted."""


class JobsFailed(LidtoolError):
    """Some jobs exited non-zero (or never reported an exit status)."""

    def __init__(self, prog: str, failed: list[int], total: int, first_log: str,
                 pattern: str, detail: str = ""):
        self.failed, self.total, self.first_log = failed, total, first_log
        if total == 1:
            text = f"{prog}: job failed, log is in {first_log}"
        else:
            text = (f"{prog}: {len(failed)} / {total} jobs failed, log is in {pattern} "
                    f"(first failed: {first_log})")
        super().__init__(text + (f"\n{detail}" if detail else ""))


@dataclass
class JobRequest:
    """One `$cmd` call: which task ids, where each logs, what each runs, and the resources."""

    log_template: str
    command: list[str]
    var: str | None = None
    start: int = 1
    end: int = 1
    mem: str | None = None
    num_threads: int = 1
    max_jobs_run: int | None = None
    gpu: int = 0
    explicit: set[str] = field(default_factory=set)  # options given on the command line

    @property
    def tasks(self) -> list[int]:
        return list(range(self.start, self.end + 1))

    def log_for(self, task: int) -> str:
        return substitute(self.log_template, self.var, task)

    def command_for(self, task: int) -> str:
        """The bash command line task `task` runs (JOB substituted, run.pl-style quoting)."""
        return shell_command([substitute(a, self.var, task) for a in self.command])

    @property
    def log_pattern(self) -> str:
        """The log name with the job variable as `*` (for "log is in x.*.log" messages)."""
        return self.log_template.replace(self.var, "*") if self.var else self.log_template


def substitute(text: str, var: str | None, value: int) -> str:
    return text.replace(var, str(value)) if var else text


def shell_command(args: list[str]) -> str:
    """Join `args` into one bash command line (see the module docstring for the rules)."""
    if len(args) == 1:
        return args[0]
    return " ".join(a if a and not _NEEDS_QUOTES.search(a) else shlex.quote(a) for a in args)


def _option_value(name: str, value: str, prog: str):
    if name == "mem":
        if not _MEM.match(value):
            raise JobError(f"{prog}: --mem {value!r}: expected a size like 500M, 4G or 4000")
        return value.upper() if value[-1].isalpha() else value
    try:
        number = int(value)
    except ValueError:
        raise JobError(f"{prog}: --{name} {value!r}: expected an integer") from None
    low = 0 if name == "gpu" else 1
    if number < low:
        raise JobError(f"{prog}: --{name} {value}: must be >= {low}")
    return number


def parse_job_args(argv: list[str], prog: str = "run.pl") -> JobRequest:
    """Parse a run.pl-style argument list into a JobRequest; JobError on misuse."""
    argv = list(argv)
    values: dict[str, object] = {}
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if "=" in opt:
            name, value = opt[2:].split("=", 1)
        else:
            name = opt[2:]
            if not argv:
                raise JobError(f"{prog}: option {opt} needs a value\n" + USAGE.format(prog=prog))
            value = argv.pop(0)
        name = name.replace("_", "-")
        if name not in _OPTIONS:
            raise JobError(f"{prog}: unknown option --{name} (known: "
                           + ", ".join("--" + o for o in _OPTIONS) + ")")
        values[name] = _option_value(name, value, prog)
    var, start, end = None, 1, 1
    if argv and _RANGE.match(argv[0]):
        m = _RANGE.match(argv.pop(0))
        var, start = m.group(1), int(m.group(2))
        end = int(m.group(3)) if m.group(3) is not None else start
        if end < start:
            raise JobError(f"{prog}: empty job range {var}={start}:{end}")
    elif argv and re.match(r"^[A-Za-z_]\w*=\S*:", argv[0]):
        raise JobError(f"{prog}: bad job range {argv[0]!r}; expected e.g. JOB=1:4")
    if len(argv) < 2:
        raise JobError(f"{prog}: expected a log file and a command\n" + USAGE.format(prog=prog))
    log_template, command = argv[0], argv[1:]
    if var is not None and end > start and var not in log_template:
        raise JobError(f"{prog}: {end - start + 1} jobs would all write the one log file "
                       f"{log_template}; put {var} in its name (e.g. x.{var}.log)")
    if var is None and re.search(r"\.JOB\.|JOB\.log$", log_template):
        raise JobError(f"{prog}: log name {log_template} has JOB in it but no JOB=1:N range "
                       "was given")
    return JobRequest(log_template=log_template, command=command, var=var, start=start, end=end,
                      mem=values.get("mem"), num_threads=values.get("num-threads", 1),
                      max_jobs_run=values.get("max-jobs-run"), gpu=values.get("gpu", 0),
                      explicit=set(values))


class Interrupted(LidtoolError):
    """A runner got SIGINT/SIGTERM/SIGHUP and stopped its tasks (`what` says how)."""

    def __init__(self, prog: str, signum: int, what: str):
        self.signum = signum
        super().__init__(f"{prog}: got {signal.Signals(signum).name}; {what}")


def runner_main(argv: list[str], doc: str, prog: str, run) -> int:
    """The runners' shared entry point: --help, parse the Kaldi-style call, run it, and turn
    an interruption into 128 + signal and any other lidtool error into exit status 1."""
    if argv and argv[0] in ("-h", "--help"):
        print(doc.strip())
        return 0
    try:
        run(parse_job_args(argv, prog))
    except Interrupted as err:
        print(err, file=sys.stderr)
        return 128 + int(err.signum)
    except LidtoolError as err:
        print(err, file=sys.stderr)
        return 1
    return 0
