#!/usr/bin/env bash
# `modelfit learn --database` over 1,000,000 pooled rows: wall time and peak
# RSS of the learning process (targets ≤ 10 s, ≤ 200 MiB), plus what `sync`
# costs to push them.
#
#   bench/pg-learn.sh [RECORDS] [MACHINES]     (default 1000000 over 4 machines)
#
# Each machine's ledger is gen_ledger's simulated world (the same world on every
# machine, told apart by machine id: equal dispatch ids on every machine, as the
# pooling must handle). Each is synced with `modelfit sync` (timed), then
# `learn --database` runs in a fresh home, then the plain `learn` over one
# machine's ledger for comparison. Needs: Debian's postgresql, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-1000000}"
machines="${2:-4}"
cargo build --release --quiet --bin modelfit --example gen_ledger
bin=$(realpath target/release/modelfit)
source bench/pg-cluster.sh
work=$(mktemp -d)
trap 'pgb_cleanup; rm -rf "$work"' EXIT
export MODELFIT_NOW=2026-06-01T00:00:00Z
per=$((records / machines))
echo "== sync: $machines machines × $per records"
for m in $(seq 1 "$machines"); do
  h="$work/m$m"; mkdir -p "$h/logs" "$h/config/orchestrator"
  cp tests/fixtures/jarvis/models.json "$h/config/orchestrator/"
  if [ "$m" -eq 1 ]; then
    ./target/release/examples/gen_ledger "$h/logs/dispatches.json" "$per" >/dev/null
  else
    cp "$work/m1/logs/dispatches.json" "$h/logs/dispatches.json"
  fi
  /usr/bin/time -f "%e s wall, %U s user, %M KB peak RSS" "$bin" --home "$h" sync --database "$PGB_URL" \
    2>"$work/sync$m.txt" | sed 's/^/  /'
  echo "  sync of machine $m: $(tail -1 "$work/sync$m.txt")"
done
echo "== a second sync of machine 1 (nothing to send)"
/usr/bin/time -f "%e s wall, %M KB peak RSS" "$bin" --home "$work/m1" sync --database "$PGB_URL" 2>&1 | sed 's/^/  /'
# CPU seconds used by every postgres process so far (the server shares the cores).
server_cpu() { python3 - <<'PY'
import os
hz = os.sysconf("SC_CLK_TCK"); t = 0
for p in os.listdir("/proc"):
    if not p.isdigit(): continue
    try:
        if open(f"/proc/{p}/comm").read().strip() != "postgres": continue
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        t += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    except OSError: pass
print(f"{t / hz:.2f}")
PY
}
echo "== learn --database over the pooled rows, 3 rounds"
h="$work/learner"; mkdir -p "$h/logs" "$h/config/orchestrator"
cp tests/fixtures/jarvis/models.json "$h/config/orchestrator/"
for round in 1 2 3; do
  before=$(server_cpu)
  /usr/bin/time -v "$bin" --home "$h" learn --database "$PGB_URL" >"$work/learn.out" 2>"$work/learn.time"
  after=$(server_cpu)
  head -1 "$work/learn.out"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/learn.time")
  user=$(awk -F': ' '/User time/ {print $2}' "$work/learn.time")
  sys=$(awk -F': ' '/System time/ {print $2}' "$work/learn.time")
  rss_kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/learn.time")
  echo "  learn --database, round $round: wall ${wall}, user ${user} s, sys ${sys} s, peak RSS $((rss_kb / 1024)) MiB (targets ≤ 10 s, ≤ 200 MiB); server CPU $(python3 -c "print(f'{$after - $before:.2f}')") s"
done
/usr/bin/time -v "$bin" --home "$work/m1" learn >/dev/null 2>"$work/local.time"
echo "  plain learn over one machine's ledger ($per records): wall $(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/local.time"), peak RSS $(( $(awk -F': ' '/Maximum resident/ {print $2}' "$work/local.time") / 1024 )) MiB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (the server runs on the same cores)"
