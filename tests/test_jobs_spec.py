"""Parsing Kaldi's run.pl calling convention, the command-line quoting and the sbatch mapping."""
import subprocess

import pytest

from lidtool.jobs.slurm import job_name, sbatch_args
from lidtool.jobs.spec import JobError, parse_job_args, shell_command


def test_options_range_log_and_command():
    req = parse_job_args(["--mem", "4g", "--num-threads=3", "--max-jobs-run", "2", "--gpu", "1",
                          "JOB=2:4", "exp/log/x.JOB.log", "prog", "in.JOB.ark", "out.JOB"])
    assert (req.mem, req.num_threads, req.max_jobs_run, req.gpu) == ("4G", 3, 2, 1)
    assert req.var == "JOB" and req.tasks == [2, 3, 4]
    assert req.log_for(3) == "exp/log/x.3.log"
    assert req.command_for(4) == "prog in.4.ark out.4"
    assert req.log_pattern == "exp/log/x.*.log"


def test_other_variable_name_single_index_and_single_job_form():
    req = parse_job_args(["SPLIT=5", "log/a.SPLIT.log", "echo", "SPLIT", "JOB"])
    assert req.tasks == [5] and req.command_for(5) == "echo 5 JOB"
    req = parse_job_args(["log/one.log", "echo", "hi"])
    assert req.var is None and req.tasks == [1] and req.log_for(1) == "log/one.log"
    assert req.explicit == set() and req.num_threads == 1


@pytest.mark.parametrize("argv, message", [
    (["--foo", "1", "l.log", "true"], "unknown option --foo"),
    (["--mem", "lots", "l.log", "true"], "--mem 'lots'"),
    (["--num-threads", "0", "l.log", "true"], "must be >= 1"),
    (["--max-jobs-run", "x", "l.log", "true"], "expected an integer"),
    (["--mem"], "needs a value"),
    (["JOB=1:3", "log/x.log", "true"], "put JOB in its name"),
    (["log/x.JOB.log", "true"], "no JOB=1:N range"),
    (["JOB=4:2", "log/x.JOB.log", "true"], "empty job range"),
    (["JOB=1:x", "log/x.JOB.log", "true"], "bad job range"),
    (["JOB=1:2", "log/x.JOB.log"], "expected a log file and a command"),
])
def test_bad_command_lines_are_clear_errors(argv, message):
    with pytest.raises(JobError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_job_args(argv, "run_local.sh")


def _bash_out(cmdline):
    return subprocess.run(["bash", "-c", cmdline], capture_output=True, text=True).stdout


def test_shell_command_keeps_spaced_args_exact_and_bare_operators_active():
    line = shell_command(["printf", "%s/", "a b", "c$HOME", "it's", "", "x\ny"])
    assert _bash_out(line) == "a b/c$HOME/it's//x\ny/"
    # run.pl style: a bare `|` argument is a pipe; one single argument is a command line
    assert _bash_out(shell_command(["echo", "abc", "|", "tr", "a-z", "A-Z"])) == "ABC\n"
    assert _bash_out(shell_command(["echo abc | tr a-z A-Z"])) == "ABC\n"


def test_sbatch_mapping():
    req = parse_job_args(["--mem", "2G", "--num-threads", "4", "--max-jobs-run", "3", "--gpu", "2",
                          "JOB=1:10", "exp/log/train.JOB.log", "true"])
    args = sbatch_args(req, extra_opts="--partition=gpu --time=1:00:00")
    assert args[:2] == ["--partition=gpu", "--time=1:00:00"]  # extra first: mapped ones win
    assert set(args[2:]) == {"--array=1-10%3", "--job-name=train", "--mem=2G",
                             "--cpus-per-task=4", "--gres=gpu:2"}
    plain = sbatch_args(parse_job_args(["JOB=3:5", "l/x.JOB.log", "true"]), extra_opts="")
    assert plain == ["--array=3-5", "--job-name=x"]  # no resources asked when none given


@pytest.mark.parametrize("log, name", [("exp/log/x.JOB.log", "x"), ("l/JOB.feats.log", "feats"),
                                       ("l/make_feats_JOB.log", "make_feats"), ("l/JOB.log", "job")])
def test_job_name(log, name):
    assert job_name(parse_job_args(["JOB=1:2", log, "true"])) == name
