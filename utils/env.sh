#!/usr/bin/env bash
# Process environment for every recipe and step (sourced by utils/lib.sh).
#
# Parallelism comes from --nj jobs, each with 1 torch thread (lidtool's --num-threads
# default). When a job does use several OpenMP threads, idle workers must sleep rather than
# spin: on 2 busy cores, 2 torch threads spin-waiting were measured 9-14x slower than 1.
# A value the user exported already wins.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
