#!/usr/bin/env bash
# Issue 11 §5 acceptance, measured: modelfit beside an orchestrator writer
# that takes no lock, then one `modelfit ledger reconcile`.
#
#   bench/store-race.sh [SECONDS] [WRITER]
#
# WRITER: `dispatcher` (tests/node/dispatcher-writer.js: read, JSON.parse,
# push, writeFileSync every 10 ms; the default), or `real-log-dispatch`
# (the JARVIS checkout's own scripts/helpers/log-dispatch.sh in a loop, when
# JARVIS_REPO points at a checkout or the bare mirror is present).
# modelfit's side loops `ledger append`, `outcome`, `rate`, `ci` and the hook.
# Prints what was acknowledged, what survived, and the share of the
# orchestrator's records modelfit destroyed (acceptance: ≤ 0.5 %).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
WRITER=${2:-dispatcher}
cargo build --release --quiet
BIN=$PWD/target/release/modelfit
W=$(mktemp -d /tmp/modelfit-race.XXXXXX)
trap 'rm -rf "$W"' EXIT
H=$W/home
mkdir -p "$H/logs" "$H/config/orchestrator" "$W/ws"
sed "s#/home/teruel/JARVIS#$H#g" tests/fixtures/jarvis/dispatches.json > "$H/logs/dispatches.json"
cp tests/fixtures/jarvis/models.json tests/fixtures/jarvis/pricing.json "$H/config/orchestrator/" 2>/dev/null || true
K1=dispatch-1772452800000-9656bj K2=dispatch-1772456700000-bcqgra K3=dispatch-1772457581000-1c2ow3

case $WRITER in
  dispatcher)
    node tests/node/dispatcher-writer.js "$H/logs/dispatches.json" orch 10 $((SECS * 1000)) > "$W/orch.json" &
    ;;
  real-log-dispatch)
    REPO=${JARVIS_REPO:-/work/.mirror/pteru+JARVIS/repo}
    if [ -d "$REPO/scripts" ]; then cp "$REPO/scripts/helpers/log-dispatch.sh" "$W/real-log-dispatch.sh"
    else git -C "$REPO" show HEAD:scripts/helpers/log-dispatch.sh > "$W/real-log-dispatch.sh"; fi
    ( end=$((SECONDS + SECS)); n=0
      while [ $SECONDS -lt $end ]; do
        ORCHESTRATOR_HOME=$H bash "$W/real-log-dispatch.sh" pr-review "orch-$n" orchestrator none complete 1 && echo "orch-$n" >> "$W/orch.ids"
        n=$((n + 1)); sleep 0.01
      done ) &
    ;;
  *) echo "unknown writer $WRITER" >&2; exit 2 ;;
esac
WPID=$!

end=$((SECONDS + SECS)); n=0; : > "$W/acked"
while [ $SECONDS -lt $end ]; do
  echo "{\"id\":\"mf-$n\",\"task\":\"race\",\"status\":\"complete\",\"started_at\":null}" \
    | "$BIN" --home "$H" ledger append >> "$W/acked" 2>> "$W/mf.err" || true
  case $((n % 4)) in
    0) "$BIN" --home "$H" outcome $K1 success > /dev/null 2>> "$W/mf.err" && echo "outcome" >> "$W/acked.other" || true ;;
    1) "$BIN" --home "$H" rate $K2 n > /dev/null 2>> "$W/mf.err" && echo "rate" >> "$W/acked.other" || true ;;
    2) "$BIN" --home "$H" ci --status success --task $K3 > /dev/null 2>> "$W/mf.err" && echo "ci" >> "$W/acked.other" || true ;;
    3) for ev in UserPromptSubmit Stop; do
         printf '{"session_id":"race-%s","hook_event_name":"%s","cwd":"%s","prompt":"race %s"}' "$n" "$ev" "$W/ws" "$n" \
           | "$BIN" --home "$H" hook > /dev/null
       done; echo "race-$n" >> "$W/hook.sessions" ;;
  esac
  n=$((n + 1))
done
wait $WPID
echo "## reconcile"
"$BIN" --home "$H" ledger reconcile
python3 - "$H/logs/dispatches.json" "$W" "$WRITER" tests/fixtures/jarvis/dispatches.json <<'PY'
import json, os, sys
ledger, w, writer, fixture = sys.argv[1:]
v = json.load(open(ledger))  # must parse
ids = {r.get("id") for r in v if isinstance(r, dict)}
tasks = {r.get("task") for r in v if isinstance(r, dict)}
acked = [l.strip() for l in open(f"{w}/acked") if l.strip()]
lost = [i for i in acked if i not in ids]
sessions = [l.strip() for l in open(f"{w}/hook.sessions")] if os.path.exists(f"{w}/hook.sessions") else []
hook_ids = {r.get("session_id") for r in v if isinstance(r, dict) and r.get("type") == "claude-code"}
hook_lost = [s for s in sessions if s not in hook_ids]
if writer == "dispatcher":
    orch = json.loads(open(f"{w}/orch.json").read())["ids"]
    gone = [i for i in orch if i not in ids]
else:
    orch = [l.strip() for l in open(f"{w}/orch.ids")] if os.path.exists(f"{w}/orch.ids") else []
    gone = [t for t in orch if t not in tasks]
fix = json.load(open(fixture))
fix_lost = [f for f in fix if (f.get("id") not in ids) if f.get("id") or not any(
    r.get("created_at") == f.get("created_at") and r.get("task") == f.get("task") for r in v)]
other = open(f"{w}/acked.other").read().split() if os.path.exists(f"{w}/acked.other") else []
print(f"ledger parses: {len(v)} records")
print(f"modelfit appends acknowledged: {len(acked)}, missing after reconcile: {len(lost)}")
print(f"outcome/rate/ci acknowledged: {len(other)}; hook tasks: {len(sessions)}, missing: {len(hook_lost)}")
pct = 100.0 * len(gone) / max(1, len(orch))
print(f"orchestrator records written: {len(orch)}, destroyed: {len(gone)} ({pct:.2f} %)")
print(f"fixture records lost: {len(fix_lost)}")
ok = not lost and not hook_lost and not fix_lost and pct <= 0.5
print("ACCEPTANCE:", "met" if ok else "NOT met")
PY
