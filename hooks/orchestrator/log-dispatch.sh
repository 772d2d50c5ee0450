#!/usr/bin/env bash
# Drop-in for the orchestrator's pipeline logger (scripts/helpers/log-dispatch.sh):
# the same arguments, the same record, but appended through
# `modelfit ledger append`, under logs/dispatches.json.lock and through
# modelfit's journal, so it never truncates the ledger another program is
# writing and never loses its record to one.
#
# Usage: log-dispatch.sh <type> <task> [workspace] [model] [status] [duration_secs]
# Install: cp hooks/orchestrator/log-dispatch.sh "$ORCHESTRATOR_HOME/scripts/helpers/log-dispatch.sh"
# Environment: ORCHESTRATOR_HOME (default ~/JARVIS), MODELFIT (default: modelfit on PATH).
set -euo pipefail

usage="Usage: log-dispatch.sh <type> <task> [workspace] [model] [status] [duration_secs]"
TYPE="${1:?$usage}"
TASK="${2:?Missing task description}"
WORKSPACE="${3:-orchestrator}"
MODEL="${4:-none}"
STATUS="${5:-complete}"
DURATION="${6:-0}"
HOME_DIR="${ORCHESTRATOR_HOME:-$HOME/JARVIS}"
MODELFIT="${MODELFIT:-modelfit}"

if ! command -v "$MODELFIT" >/dev/null 2>&1; then
  echo "log-dispatch.sh: modelfit not found (install it, or set MODELFIT=/path/to/modelfit)" >&2
  exit 1
fi

# The orchestrator's timestamps: JavaScript toISOString() (UTC, milliseconds, Z).
NOW="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
# A positive whole number of seconds is kept, as the original does (parseInt > 0).
DUR=""
if [[ "$DURATION" =~ ^[0-9]+ ]] && (( 10#${BASH_REMATCH[0]} > 0 )); then
  DUR="$((10#${BASH_REMATCH[0]}))"
fi

# JSON text with every string escaped (jq when present, else python3).
if command -v jq >/dev/null 2>&1; then
  RECORD="$(jq -cn --arg type "$TYPE" --arg task "$TASK" --arg workspace "$WORKSPACE" \
    --arg model "$MODEL" --arg status "$STATUS" --arg now "$NOW" --arg dur "$DUR" \
    '{type: $type, task: $task, workspace: $workspace, model: $model, status: $status,
      created_at: $now, started_at: $now, completed_at: $now}
     + (if $dur == "" then {} else {duration_seconds: ($dur | tonumber)} end)')"
else
  RECORD="$(python3 -c '
import json, sys
t, task, ws, model, status, now, dur = sys.argv[1:]
r = {"type": t, "task": task, "workspace": ws, "model": model, "status": status,
     "created_at": now, "started_at": now, "completed_at": now}
if dur:
    r["duration_seconds"] = int(dur)
print(json.dumps(r, ensure_ascii=False))
' "$TYPE" "$TASK" "$WORKSPACE" "$MODEL" "$STATUS" "$NOW" "$DUR")"
fi

printf '%s' "$RECORD" | "$MODELFIT" --home "$HOME_DIR" ledger append >/dev/null
