#!/usr/bin/env bash
# Compares `modelfit usage` with ccusage 20.0.24 (`ccusage session --json
# --offline`) on the Claude Code fixture transcripts, session by session.
#
#   bench/ccusage-compare.sh            # prints both side by side, exit 1 on an unexplained difference
#
# Needs: cargo, npm (installs ccusage@20.0.24 into $CCUSAGE_DIR, default
# /tmp/modelfit-ccusage), jq. Prices: modelfit runs with an empty home, i.e.
# its built-in list prices; ccusage uses its bundled LiteLLM table.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in cargo npm jq; do
  command -v "$tool" >/dev/null || { echo "ccusage-compare: '$tool' is required (apt-get install -y ${tool/cargo/cargo} / nodejs npm)" >&2; exit 2; }
done

CCUSAGE_DIR=${CCUSAGE_DIR:-/tmp/modelfit-ccusage}
CCUSAGE="$CCUSAGE_DIR/node_modules/.bin/ccusage"
if ! [ -x "$CCUSAGE" ] || ! "$CCUSAGE" --version 2>/dev/null | grep -q '20.0.24'; then
  mkdir -p "$CCUSAGE_DIR"
  (cd "$CCUSAGE_DIR" && npm install --no-audit --no-fund --silent ccusage@20.0.24 >/dev/null)
fi
cargo build --quiet
MODELFIT=${MODELFIT:-target/debug/modelfit}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fx=tests/fixtures/claude-code/transcripts
# Claude Code's layout: projects/<project>/<session>.jsonl (+ <session>/subagents/).
for d in "$fx"/*/; do
  proj="$work/claude/projects/$(basename "$d")"
  mkdir -p "$proj"
  for f in "$d"*.jsonl; do
    name=$(basename "$f"); name=${name%.excerpt.jsonl}; name=${name%.jsonl}
    cp "$f" "$proj/$name.jsonl"
    [ -d "$d$name" ] && cp -r "$d$name" "$proj/$name"
  done
done

CLAUDE_CONFIG_DIR="$work/claude" "$CCUSAGE" session --json --offline > "$work/ccusage.json"

printf '%-38s %-9s %9s %9s %11s %12s %10s\n' session tool input output cache_write cache_read cost_usd
status=0
for main in "$work"/claude/projects/*/*.jsonl; do
  sid=$(basename "$main" .jsonl)
  "$MODELFIT" --home "$work/home" usage "$main" --json > "$work/mf.json"
  mf=$(jq -r '.total | [.tokens.input, .tokens.output, .tokens.cache_creation, .tokens.cache_read, (.cost_usd // 0)] | @tsv' "$work/mf.json")
  cc=$(jq -r --arg s "$sid" '[.session[] | select(.period == $s)] | [ (map(.inputTokens)|add), (map(.outputTokens)|add), (map(.cacheCreationTokens)|add), (map(.cacheReadTokens)|add), (map(.totalCost)|add) ] | @tsv' "$work/ccusage.json")
  corr=$(jq -r '.total.subagent_output_correction' "$work/mf.json")
  read -r mi mo mcc mcr mcost <<<"$mf"
  read -r ci co ccc ccr ccost <<<"$cc"
  printf '%-38s %-9s %9s %9s %11s %12s %10.4f\n' "$sid" modelfit "$mi" "$mo" "$mcc" "$mcr" "$mcost"
  printf '%-38s %-9s %9s %9s %11s %12s %10.4f\n' "" ccusage "$ci" "$co" "$ccc" "$ccr" "$ccost"
  if [ "$mi $mcc $mcr" != "$ci $ccc $ccr" ] || [ $((mo - corr)) -ne "$co" ] \
     || { [ "$corr" -eq 0 ] && ! awk -v a="$mcost" -v b="$ccost" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }'; }; then
    echo "  UNEXPLAINED difference" ; status=1
  elif [ "$corr" -gt 0 ]; then
    echo "  output +$corr: modelfit takes the subagent's final output from the parent's Task result (ccusage keeps the transcript's placeholder)"
  fi
  missing=$(jq -r '.missing_subagents | join(",")' "$work/mf.json")
  [ -n "$missing" ] && echo "  both miss subagent(s) $missing: no transcript file (only agent_progress copies, which neither counts)"
done
jq -r '.totals | "ccusage totals: input \(.inputTokens) output \(.outputTokens) cache_write \(.cacheCreationTokens) cache_read \(.cacheReadTokens) cost \(.totalCost)"' "$work/ccusage.json"
exit $status
