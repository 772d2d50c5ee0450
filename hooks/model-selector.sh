#!/usr/bin/env bash
# modelfit drop-in for the orchestrator's scripts/model-selector.sh.
#
#   model-selector.sh <complexity> <task>     prints the model id, nothing else
#
# Asks `modelfit select`, which evaluates config/orchestrator/models.json as
# its rules are written (conditions parsed, `use` honoured, aliases resolved).
# If modelfit is missing or fails, prints the orchestrator's own defaults
# (haiku / sonnet / opus 4.5 by complexity), so dispatch never breaks.
#
# Environment:
#   MODELFIT                  the modelfit binary (default: `modelfit` on PATH)
#   ORCHESTRATOR_HOME         the orchestrator home (default: this script's
#                             directory's parent if it holds config/orchestrator/,
#                             else modelfit's own default, ~/JARVIS)
#   MODELFIT_EXPLORE=1        let select explore adjacent tiers (logged)
#   MODELFIT_ESTIMATED_FILES  file count for `estimated_files` rules
set -uo pipefail

complexity="${1:-medium}"
task="${*:2}"

fallback() {
  case "$complexity" in
    simple) echo "claude-haiku-4-5-20251001" ;;
    complex) echo "claude-opus-4-5-20251101" ;;
    *) echo "claude-sonnet-4-5-20250929" ;;
  esac
}

bin="${MODELFIT:-modelfit}"
if ! command -v "$bin" >/dev/null 2>&1; then
  echo "model-selector: modelfit not found ($bin); using the default model for '$complexity'" >&2
  fallback
  exit 0
fi

args=(select --complexity "$complexity")
if [[ -z "${ORCHESTRATOR_HOME:-}" ]]; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if [[ -d "$here/../config/orchestrator" ]]; then
    args+=(--home "$here/..")
  fi
fi
[[ "${MODELFIT_EXPLORE:-0}" == 1 ]] && args+=(--explore)
[[ -n "${MODELFIT_ESTIMATED_FILES:-}" ]] && args+=(--estimated-files "$MODELFIT_ESTIMATED_FILES")

if model="$("$bin" "${args[@]}" -- "$task")" && [[ "$model" =~ ^[A-Za-z0-9._:@-]+$ ]]; then
  echo "$model"
else
  echo "model-selector: modelfit select failed; using the default model for '$complexity'" >&2
  fallback
fi
exit 0
