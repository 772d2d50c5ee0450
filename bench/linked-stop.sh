#!/usr/bin/env bash
# Issue 11 §5: a linked Stop (the hook updating an orchestrator dispatch by
# id) at a 100 MB ledger vs a small one; acceptance ≤ 1.3×. The update goes
# to modelfit's journal (O(1)); a small ledger is written at once, a large
# one by a detached `modelfit ledger reconcile`.
#   bench/linked-stop.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-40}
cargo build --release --quiet
BIN=$PWD/target/release/modelfit
W=$(mktemp -d /var/tmp/modelfit-linked.XXXXXX)
trap 'rm -rf "$W"' EXIT
echo "# linked Stop — $(date -u +%FT%TZ), $(nproc) cores"
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
for size in small 100M; do
  H=$W/$size; mkdir -p "$H/logs" "$W/ws-$size"
  if [ $size = small ]; then echo '[]' > "$H/logs/dispatches.json"
  else python3 bench/gen_ledger.py "$H/logs/dispatches.json" 100M; fi
  # The dispatch execute-batch marked running for this workspace a moment ago.
  printf '{"id":"dispatch-1800000000000-linked","workspace":"w","workspace_path":"%s","task":"bench task","model":"claude-sonnet-4-5-20250929","status":"running","created_at":"%s","started_at":"%s","completed_at":null,"status_history":[{"status":"running","timestamp":"%s","note":"Batch execution started"}]}' \
    "$W/ws-$size" "$NOW" "$NOW" "$NOW" | "$BIN" --home "$H" ledger append > /dev/null
  printf '{"session_id":"bench-%s","hook_event_name":"UserPromptSubmit","cwd":"%s","prompt":"bench task"}' "$size" "$W/ws-$size" \
    | "$BIN" --home "$H" hook
  printf '{"session_id":"bench-%s","hook_event_name":"Stop","cwd":"%s","stop_hook_active":false}' "$size" "$W/ws-$size" > "$W/stop-$size.json"
  grep -q linked "$H/logs/modelfit/sessions/bench-$size.json" || { echo "the prompt did not link" >&2; exit 1; }
done
ls -l "$W/100M/logs/dispatches.json" | awk '{print "  100M ledger: " $5 " bytes"}'
python3 bench/timeit.py "$RUNS" 3 \
  "linked Stop, small ledger" "$W/stop-small.json" -- "$BIN" --home "$W/small" hook \;\; \
  "linked Stop, 100 MB ledger" "$W/stop-100M.json" -- "$BIN" --home "$W/100M" hook
# Let the detached reconcile finish, then show the record got its outcome.
for i in $(seq 1 600); do "$BIN" --home "$W/100M" ledger reconcile > /dev/null 2>&1 && break; sleep 0.5; done
grep -c '"outcome_source": "hook"' "$W/100M/logs/dispatches.json" | awk '{print "  records with a hook outcome in the 100 MB ledger after reconcile: " $1}'
