#!/usr/bin/env bash
# What linking the MCP server (rmcp + tokio, cargo feature `mcp`) costs the
# hook path: `modelfit hook` on a Stop payload, built with and without the
# feature, timed in the same run with the two variants alternating.
#
#   1. builds both release variants (target/bench-mcp and target/bench-nomcp);
#   2. checks that the one without the feature refuses `modelfit mcp` clearly
#      and that the one with it answers `initialize`;
#   3. hyperfine, ROUNDS rounds × RUNS runs, the order of the variants flipped
#      every round: `modelfit hook` on a Stop that records a task (the session
#      state and the ledger are restored before every run, so every run does
#      the same append), and `modelfit --version` (process start + clap);
#   4. valgrind: instructions executed by one hook call of each variant, and
#      how many of them ran inside tokio or rmcp (must be none);
#   5. binary sizes and peak RSS.
#
# Usage: bench/mcp-hook-latency.sh             (ROUNDS=6 RUNS=200 by default)
#        ROUNDS=2 RUNS=50 bench/mcp-hook-latency.sh
# Needs: cargo, hyperfine (apt-get install -y hyperfine), python3;
#        valgrind (apt-get install -y valgrind) for step 4, skipped with a note if absent.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install -y hyperfine" >&2; exit 1; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 1; }
ROUNDS=${ROUNDS:-6}
RUNS=${RUNS:-200}

echo "== building both variants (release)"
cargo build --release --quiet --target-dir target/bench-mcp
cargo build --release --quiet --no-default-features --target-dir target/bench-nomcp
WITH=$(realpath target/bench-mcp/release/modelfit)
WITHOUT=$(realpath target/bench-nomcp/release/modelfit)

# On tmpfs when there is one: fdatasync is then free, and the figures show the
# code's cost instead of the disk's queue (other processes' I/O made single
# runs on disk vary from 5 to 130 ms here).
W=$(mktemp -d "${BENCH_DIR:-$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp)}/modelfit-bench-mcp.XXXXXX")
trap 'rm -rf "$W"' EXIT
FIX=tests/fixtures/claude-code/transcripts/spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl

echo "== the feature switch"
if "$WITHOUT" --home "$W" mcp </dev/null 2>"$W/err"; then
  echo "the build without the mcp feature served MCP" >&2; exit 1
fi
echo "without mcp: $(cat "$W/err")"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}' \
  | "$WITH" --home "$W" mcp 2>/dev/null | grep -q '"serverInfo":{"name":"modelfit"' \
  || { echo "the build with the mcp feature did not answer initialize" >&2; exit 1; }
echo "with mcp: answers initialize as modelfit"

# One home per variant: a small real ledger, a session whose task began with
# UserPromptSubmit, and a transcript with one turn since.
for v in with without; do
  python3 - "$W/$v" "$FIX" tests/fixtures/jarvis/dispatches.json <<'PY'
import json, os, sys
d, fix, ledger = sys.argv[1], sys.argv[2], sys.argv[3]
home = f"{d}/home"
os.makedirs(f"{home}/logs/modelfit", exist_ok=True)
os.makedirs(f"{d}/ws", exist_ok=True)
json.dump({"learn_every": 0}, open(f"{home}/logs/modelfit/config.json", "w"))  # no learn hand-off
open(f"{home}/logs/dispatches.json", "w").write(open(ledger).read())
lines = open(fix).read().splitlines()
open(f"{d}/session.jsonl", "w").write("\n".join(lines[:4]) + "\n")
open(f"{d}/turn.jsonl", "w").write("\n".join(lines[4:12]) + "\n")
base = {"session_id": "bench-session", "transcript_path": f"{d}/session.jsonl", "cwd": f"{d}/ws",
        "permission_mode": "default"}
json.dump(dict(base, hook_event_name="UserPromptSubmit", prompt="add a retry to the uploader"),
          open(f"{d}/ups.json", "w"))
json.dump(dict(base, hook_event_name="Stop", stop_hook_active=False), open(f"{d}/stop.json", "w"))
PY
  bin=$WITH; [ $v = without ] && bin=$WITHOUT
  "$bin" --home "$W/$v/home" hook < "$W/$v/ups.json"
  cat "$W/$v/turn.jsonl" >> "$W/$v/session.jsonl"
  cp "$W/$v/home/logs/modelfit/sessions/bench-session.json" "$W/$v/state.saved"
  cp "$W/$v/home/logs/dispatches.json" "$W/$v/ledger.saved"
  # Check that a Stop really records the task, then restore.
  "$bin" --home "$W/$v/home" hook < "$W/$v/stop.json"
  python3 -c "import json,sys; n=len(json.load(open(sys.argv[1]))); m=len(json.load(open(sys.argv[2]))); sys.exit(0 if n==m+1 else 'the Stop did not append a record')" \
    "$W/$v/home/logs/dispatches.json" "$W/$v/ledger.saved"
done
restore() { echo "cp $W/$1/state.saved $W/$1/home/logs/modelfit/sessions/bench-session.json && cp $W/$1/ledger.saved $W/$1/home/logs/dispatches.json"; }
hook_cmd() { local bin=$WITH; [ "$1" = without ] && bin=$WITHOUT; echo "$bin --home $W/$1/home hook < $W/$1/stop.json"; }

echo "== hyperfine: $ROUNDS rounds x $RUNS runs, order flipped every round"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then order="with without"; else order="without with"; fi
  args=()
  for v in $order; do
    args+=(--prepare "$(restore $v)" -n "hook Stop, $v mcp" "$(hook_cmd $v)")
  done
  # The hook needs its payload on stdin: a shell redirect (hyperfine 1.15 has
  # no --input), the shell's own start calibrated out by hyperfine.
  hyperfine --shell=bash --style basic --warmup 10 --runs "$RUNS" \
    --export-json "$W/round$r.hook.json" "${args[@]}" > "$W/round$r.txt" 2>"$W/round$r.err"
  args=()
  for v in $order; do
    bin=$WITH; [ $v = without ] && bin=$WITHOUT
    args+=(-n "startup (--version), $v mcp" "$bin --version")
  done
  hyperfine -N --style basic --warmup 10 --runs "$RUNS" \
    --export-json "$W/round$r.start.json" "${args[@]}" >> "$W/round$r.txt" 2>>"$W/round$r.err"
  echo "round $r ($order) done"
done

python3 - "$W" "$ROUNDS" <<'PY'
import json, statistics, sys
w, rounds = sys.argv[1], int(sys.argv[2])
per = {}
for r in range(1, rounds + 1):
    for res in (json.load(open(f"{w}/round{r}.hook.json"))["results"]
                + json.load(open(f"{w}/round{r}.start.json"))["results"]):
        per.setdefault(res["command"], {"med": [], "min": [], "times": []})
        per[res["command"]]["med"].append(res["median"] * 1000)
        per[res["command"]]["min"].append(res["min"] * 1000)
        per[res["command"]]["times"] += [t * 1000 for t in res["times"]]
print(f"{'command':28} {'median of round medians':>24} {'pooled p50':>11} {'p90':>7} {'min':>6}   round medians")
for name in ["hook Stop, without mcp", "hook Stop, with mcp", "startup (--version), without mcp", "startup (--version), with mcp"]:
    p = per[name]
    t = sorted(p["times"])
    print(f"{name:28} {statistics.median(p['med']):21.3f} ms {t[len(t)//2]:8.3f} ms {t[int(len(t)*.9)]:6.2f} {min(p['min']):6.2f}   "
          + " / ".join(f"{m:.2f}" for m in p["med"]))
for what in ["hook Stop", "startup (--version)"]:
    a = statistics.median(per[f"{what}, without mcp"]["med"])
    b = statistics.median(per[f"{what}, with mcp"]["med"])
    print(f"{what}: with mcp - without = {b - a:+.3f} ms ({(b / a - 1) * 100:+.1f}%)")
PY

echo "== sizes"
ls -l "$WITHOUT" "$WITH" | awk '{printf "%10d bytes  %s\n", $5, $9}'

if command -v valgrind >/dev/null; then
  echo "== valgrind: instructions of one hook Stop (callgrind), and how many ran in tokio or rmcp"
  for v in without with; do
    bin=$WITH; [ $v = without ] && bin=$WITHOUT
    eval "$(restore $v)"
    valgrind --tool=callgrind --callgrind-out-file="$W/cg.$v" "$bin" --home "$W/$v/home" hook \
      < "$W/$v/stop.json" 2>"$W/vg.$v" || true
    ir=$(grep -o 'Collected : [0-9]*' "$W/vg.$v" | grep -o '[0-9]*' || true)
    async=$(callgrind_annotate --threshold=100 "$W/cg.$v" 2>/dev/null | grep -ciE 'tokio|rmcp' || true)
    eval "$(restore $v)"
    rss=$( { /usr/bin/time -f "%M" "$bin" --home "$W/$v/home" hook < "$W/$v/stop.json"; } 2>&1 | tail -1)
    echo "$v mcp: ${ir:-?} instructions; functions from tokio/rmcp executed: ${async}; peak RSS ${rss} KB"
  done
else
  echo "== valgrind not installed (apt-get install -y valgrind): instruction counts skipped"
fi
