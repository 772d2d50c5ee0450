#!/usr/bin/env bash
# The simulator's worlds (truth-labelled and weak-labelled) over many draws:
# per world, draws with a change, draws where no task lost more than 5
# points, draws reaching half the oracle's gain, Brier and ECE of every
# emitted suggestion's confidence.
#   bench/learn-sweep.sh [SEEDS] [FIRST_SEED]      (default 20 draws from 0)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example simulate
./target/release/examples/simulate "${1:-20}" "${2:-0}"
