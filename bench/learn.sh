#!/usr/bin/env bash
# Benchmark of `modelfit learn` (analyze + suggest) over a 1,000,000-record
# ledger: wall time and peak RSS, targets ≤ 3 s and ≤ 100 MiB (issue 10).
#   bench/learn.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-1000000}"
cargo build --release --quiet --bin modelfit --example gen_ledger
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/logs" "$home/config/orchestrator"
cp tests/fixtures/jarvis/models.json "$home/config/orchestrator/"
./target/release/examples/gen_ledger "$home/logs/dispatches.json" "$records"
echo "ledger: $(du -h "$home/logs/dispatches.json" | cut -f1)"
# The ledger ends at 2026-06-01; the released binary reads the real clock
# (MODELFIT_NOW exists only in test builds), so the window is opened with --since.
/usr/bin/time -v ./target/release/modelfit --home "$home" learn --since 2026-03-03T00:00:00Z 2>"$home/time.txt"
grep -E "User time|System time|Elapsed \(wall clock\)|Maximum resident set size" "$home/time.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall includes waiting for the CPU)"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$home/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$home/time.txt")
echo "wall ${wall}, peak RSS $((rss_kb / 1024)) MB (targets: ≤ 3 s, ≤ 100 MiB)"
/usr/bin/time -v ./target/release/modelfit --home "$home" learn report --format html --output "$home/r.html" 2>"$home/time2.txt" >/dev/null
echo "report: $(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$home/time2.txt") wall"
