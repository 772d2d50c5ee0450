#!/usr/bin/env bash
# `modelfit tasks` and `doctor` (which counts the unrated tasks) on 10 MB and
# 100 MB ledgers: wall time and peak RSS of a whole process.
# Usage: bench/tasks.sh [WORKDIR]   (needs ~120 MB of disk)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d /var/tmp/modelfit-bench.XXXXXX)}
cargo build --release --quiet
bin=$PWD/target/release/modelfit
mkdir -p "$work"
echo "# modelfit tasks benchmark — $(date -u +%FT%TZ), $(nproc) cores, work dir $work"
for size in 10M 100M; do
  h=$work/home-$size; mkdir -p "$h/logs"
  [ -s "$h/logs/dispatches.json" ] || python3 bench/gen_ledger.py "$h/logs/dispatches.json" "$size"
  echo "## $size ledger ($(du -h "$h/logs/dispatches.json" | cut -f1))"
  for args in "tasks" "tasks --unrated --limit 0 --json" "tasks --workspace nothing-matches" "doctor"; do
    for i in 1 2 3; do
      /usr/bin/time -f "  $args: %e s wall, %M KB peak RSS" "$bin" --home "$h" $args > /dev/null || true
    done
  done
done
