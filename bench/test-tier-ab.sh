#!/usr/bin/env bash
# Test-tier configs, A/B (TIER, session 15): run the same test files under two vitest configs, alternated,
# and print the CPU (user + sys of the vitest process tree, /usr/bin/time) and wall of each run.
#   bash bench/test-tier-ab.sh <old-config> <new-config> <reps> <test files or dirs...>
# e.g. the current config against session 15's shared-worker config (commit 313da94, reverted; it imports
# test/helpers/isolation.ts from that commit too):
#   git show 313da94:vitest.config.ts > vitest.shared.config.ts
#   bash bench/test-tier-ab.sh vitest.config.ts vitest.shared.config.ts 3 test/core test/toolkit
set -uo pipefail
old=$1; new=$2; reps=$3; shift 3
out=$(mktemp -d)
for r in $(seq 1 "$reps"); do
  for cfg in "$old" "$new"; do
    /usr/bin/time -f "%U %S %e" -o "$out/t" npx vitest run --config "$cfg" "$@" > "$out/log" 2>&1
    rc=$?
    read -r u s e < "$out/t"
    files=$(sed 's/\x1b\[[0-9;]*m//g' "$out/log" | grep -E "Test Files" | tr -s ' ')
    echo "rep $r $cfg rc=$rc cpu=$(node -e "console.log(($u + $s).toFixed(1))") wall=$e load=$(cut -d' ' -f1 /proc/loadavg) |$files"
  done
done
rm -r "$out"
