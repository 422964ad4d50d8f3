#!/bin/bash
# the quick command (4 x (50 + 50), hmc-gibbs, scalar coal, seed 3): the tree just before the early sweep (PRE, `git archive c1caeb8^ src models`) and this tree alternated, CPU s per process
cd "$(dirname "$0")"
PRE=${PRE:-/tmp/coal5-pre}
for round in 1 2 3; do
  for R in $PRE /work/main; do
    ROOT=$R node --import tsx ../coal3/sha.ts hmc-gibbs '{"chains":4,"warmup":50,"samples":50}' 2>/dev/null | grep sha
    uptime | sed 's/.*load/load/'
  done
done
