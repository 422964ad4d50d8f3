#!/bin/bash
# the quick command (4 x (50 + 50), hmc-gibbs, scalar coal, seed 3, cpu backend): base19 and this tree alternated, CPU s per process (scratch/coal3/sha.ts)
cd "$(dirname "$0")"
for round in 1 2 3; do
  for R in /work/base19 /work/main; do
    ROOT=$R node --import tsx ../coal3/sha.ts hmc-gibbs '{"chains":4,"warmup":50,"samples":50}' 2>/dev/null | grep sha
    uptime | sed 's/.*load/load/'
  done
done
