# Job runners (Kaldi calling convention: $cmd [opts] JOB=1:N log.JOB.log command ...).
# Local machine: parallel processes, at most --max-jobs-run at a time (default: #CPUs).
export train_cmd="utils/run_local.sh"
export cuda_cmd="utils/run_local.sh"
# A Slurm cluster instead (array jobs; --mem and --num-threads map to sbatch options;
# extra sbatch options via LIDTOOL_SLURM_OPTS, e.g. "--partition=cpu"):
# export train_cmd="utils/run_slurm.sh --mem 4G"
# export cuda_cmd="utils/run_slurm.sh --mem 16G --gpu 1"
