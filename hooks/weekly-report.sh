#!/usr/bin/env bash
# Weekly learning run: analyze + suggest, then write this week's report
# (Markdown and HTML) under logs/reports/. Installed by hooks/weekly-learn.cron.
# Needs `modelfit` on PATH and ORCHESTRATOR_HOME (default ~/JARVIS).
set -euo pipefail
home="${ORCHESTRATOR_HOME:-$HOME/JARVIS}"
out="$home/logs/reports"
mkdir -p "$out"
week="$(date -u +%G-W%V)"
modelfit --home "$home" learn >>"$out/learn.log" 2>&1
modelfit --home "$home" learn report --format md --output "$out/model-learning-$week.md" >/dev/null
modelfit --home "$home" learn report --format html --output "$out/model-learning-$week.html" >/dev/null
