#!/usr/bin/env bash
# Timing stand-in for the orchestrator's scripts/model-selector.sh (not in this
# repo): bash starting node to read models.json and apply the hard-coded logic
# that jarvis-interop.md §9.2 documents (substring tests on the `if` text,
# `use` ignored, fallbacks). Used by bench/select.sh only, to compare costs.
set -uo pipefail
complexity="${1:-medium}"
task="${2:-}"
config="${ORCHESTRATOR_HOME:-$HOME/JARVIS}/config/orchestrator/models.json"
exec node -e '
const fs = require("fs");
const [cfgPath, complexity, task] = process.argv.slice(1);
const defaults = { simple: "claude-haiku-4-5-20251001", medium: "claude-sonnet-4-5-20250929", complex: "claude-opus-4-5-20251101" };
let cfg;
try { cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8")); }
catch (e) { console.log(fs.existsSync(cfgPath) ? defaults.medium : (defaults[complexity] || defaults.medium)); process.exit(0); }
const tc = cfg.task_complexity || {};
const t = (task || "").toLowerCase();
if (t && Array.isArray(cfg.rules)) {
  for (const rule of cfg.rules) {
    const cond = rule.if.toLowerCase();
    if ((cond.includes("architecture") || cond.includes("design")) && (t.includes("architecture") || t.includes("design"))) { console.log(tc.complex.model); process.exit(0); }
    if ((cond.includes("documentation") || cond.includes("readme")) && (t.includes("documentation") || t.includes("readme") || t.includes("docs"))) { console.log(tc.simple.model); process.exit(0); }
  }
}
console.log((tc[complexity] && tc[complexity].model) || (tc.medium && tc.medium.model) || "claude-sonnet-4-5-20250929");
' "$config" "$complexity" "$task"
