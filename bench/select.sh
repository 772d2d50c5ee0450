#!/usr/bin/env bash
# Times `modelfit select` against the orchestrator's way of choosing a model
# (bash + node, bench/orchestrator-model-selector.sh) on the fixture
# models.json. Needs hyperfine (apt install hyperfine) and node.
#
#   bench/select.sh            # builds the release binary first
#   MODELFIT=path bench/select.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine node bash; do
  command -v "$tool" >/dev/null || { echo "bench/select.sh needs $tool (apt install $tool)" >&2; exit 1; }
done
if [[ -z "${MODELFIT:-}" ]]; then
  cargo build --release --quiet
  MODELFIT="$PWD/target/release/modelfit"
fi
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/config/orchestrator" "$home/logs"
cp tests/fixtures/jarvis/models.json tests/fixtures/jarvis/pricing.json "$home/config/orchestrator/"
cp tests/fixtures/jarvis/learning-sample/model-learning.json "$home/logs/"
export ORCHESTRATOR_HOME="$home" MODELFIT
task="Design the billing API and update its documentation"

echo "== same answer?"
echo "modelfit:     $("$MODELFIT" select medium "$task")"
echo "orchestrator: $(bash bench/orchestrator-model-selector.sh medium "$task")"
echo "drop-in hook: $(bash hooks/model-selector.sh medium "$task")"
echo

hyperfine -N --warmup 20 --min-runs 200 \
  --command-name "modelfit select" "$MODELFIT select medium '$task'" \
  --command-name "modelfit select --explore (logs a line)" "$MODELFIT select --explore medium '$task'" \
  --command-name "hooks/model-selector.sh (bash + modelfit)" "bash hooks/model-selector.sh medium '$task'" \
  --command-name "orchestrator model-selector (bash + node)" "bash bench/orchestrator-model-selector.sh medium '$task'" \
  "$@"
