"""lidtool.jobs: job runners behind Kaldi's run.pl calling convention.

`$cmd [--mem X] [--num-threads N] [--max-jobs-run M] [--gpu G] JOB=1:N log.JOB.log command args`
is parsed by `spec.parse_job_args` into a `spec.JobRequest`; `script.write_task_script` writes
the bash wrapper that runs one task and writes its Kaldi-style log; `local.run_local` runs
the tasks as bounded parallel processes (utils/run_local.sh), `slurm.run_slurm` as one sbatch
array job (utils/run_slurm.sh). Both raise `spec.JobsFailed` when any task fails.
"""
