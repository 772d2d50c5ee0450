#!/usr/bin/env bash
# What a configured-but-unreachable database costs the hook, and what linking
# the PostgreSQL client (cargo feature `postgres`) costs its startup:
# `modelfit hook` on a Stop that records a task, three variants timed in the
# same run, their order rotated every round:
#
#   none  default build (postgres feature on), no database configured;
#   down  default build, `database` configured to a PostgreSQL that is down
#         (its port on 127.0.0.1 refuses: nothing listens), so each Stop's
#         hand-off starts a background `modelfit sync` that fails and logs;
#   nopg  build without the postgres feature, no database configured.
#
# Then `modelfit --version` (process start + clap) with and without the feature.
#
# Usage: bench/pg-hook-latency.sh     (ROUNDS=6 RUNS=200 by default)
# Needs: cargo, hyperfine (apt-get install -y hyperfine), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install -y hyperfine" >&2; exit 1; }
ROUNDS=${ROUNDS:-6}
RUNS=${RUNS:-200}
echo "== building both variants (release)"
# In target/release, one after the other (only modelfit itself recompiles),
# each binary copied aside.
mkdir -p target/bench-pg
cargo build --release --quiet --no-default-features --features mcp --bin modelfit
cp target/release/modelfit target/bench-pg/modelfit-nopg
cargo build --release --quiet --bin modelfit
cp target/release/modelfit target/bench-pg/modelfit-pg
PG=$(realpath target/bench-pg/modelfit-pg)
NOPG=$(realpath target/bench-pg/modelfit-nopg)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="postgresql://team:secret@127.0.0.1:$PORT/modelfit"
W=$(mktemp -d "${BENCH_DIR:-$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp)}/modelfit-bench-pg.XXXXXX")
trap 'rm -rf "$W"' EXIT
FIX=tests/fixtures/claude-code/transcripts/spotter-v2.1.38-tool-heavy/d6e0bada-1959-4eec-a9d2-0bfade768d8f.jsonl

echo "== the feature switch"
if "$NOPG" --home "$W" sync --database "$URL" 2>"$W/err"; then echo "the build without postgres synced" >&2; exit 1; fi
echo "without postgres: $(cat "$W/err")"

# One home per variant: a small real ledger, a session whose task began with
# UserPromptSubmit, and a transcript with one turn since.
for v in none down nopg; do
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
  bin=$PG; [ $v = nopg ] && bin=$NOPG
  if [ $v = down ]; then
    python3 - "$W/$v/home/logs/modelfit/config.json" "$URL" <<'PY'
import json, sys
json.dump({"learn_every": 0, "database": sys.argv[2]}, open(sys.argv[1], "w"))
PY
  fi
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
hook_cmd() { local bin=$PG; [ "$1" = nopg ] && bin=$NOPG; echo "$bin --home $W/$1/home hook < $W/$1/stop.json"; }

echo "== hyperfine: $ROUNDS rounds x $RUNS runs, order rotated every round"
orders=("none down nopg" "down nopg none" "nopg none down")
for r in $(seq 1 "$ROUNDS"); do
  order=${orders[$(( (r - 1) % 3 ))]}
  args=()
  for v in $order; do
    args+=(--prepare "$(restore $v)" -n "hook Stop, $v" "$(hook_cmd $v)")
  done
  hyperfine --shell=bash --style basic --warmup 10 --runs "$RUNS" \
    --export-json "$W/round$r.hook.json" "${args[@]}" > "$W/round$r.txt" 2>"$W/round$r.err"
  hyperfine -N --style basic --warmup 10 --runs "$RUNS" --export-json "$W/round$r.start.json" \
    -n "startup (--version), postgres" "$PG --version" -n "startup (--version), nopg" "$NOPG --version" \
    >> "$W/round$r.txt" 2>>"$W/round$r.err"
  echo "round $r ($order) done"
done
echo "background syncs that ran and failed (logged): $(grep -c 'sync: cannot connect' "$W/down/home/logs/modelfit/modelfit.log" || true)"

python3 - "$W" "$ROUNDS" <<'PY'
import json, statistics, sys
w, rounds = sys.argv[1], int(sys.argv[2])
per = {}
for r in range(1, rounds + 1):
    for res in (json.load(open(f"{w}/round{r}.hook.json"))["results"]
                + json.load(open(f"{w}/round{r}.start.json"))["results"]):
        p = per.setdefault(res["command"], {"med": [], "times": []})
        p["med"].append(res["median"] * 1000)
        p["times"] += [t * 1000 for t in res["times"]]
print(f"{'command':32} {'median of round medians':>24} {'pooled p50':>11} {'p90':>7}   round medians")
for name, p in per.items():
    t = sorted(p["times"])
    print(f"{name:32} {statistics.median(p['med']):21.3f} ms {t[len(t)//2]:8.3f} ms {t[int(len(t)*.9)]:6.2f}   "
          + " / ".join(f"{m:.2f}" for m in p["med"]))
m = lambda n: statistics.median(per[n]["med"])
print(f"database configured and down vs none: {m('hook Stop, down') / m('hook Stop, none'):.3f}x (target <= 1.1x)")
print(f"postgres feature vs without, hook Stop: {m('hook Stop, none') - m('hook Stop, nopg'):+.3f} ms")
print(f"postgres feature vs without, startup: {m('startup (--version), postgres') - m('startup (--version), nopg'):+.3f} ms")
PY
echo "== sizes"
ls -l "$NOPG" "$PG" | awk '{printf "%10d bytes  %s\n", $5, $9}'
