#!/usr/bin/env bash
# Throughput of transcript accounting, against ccusage 20.0.24 on the same file.
#
#   bench/transcript.sh [SIZE_MB]      # default 100
#
# 1. Builds modelfit (release) and installs ccusage@20.0.24 into $CCUSAGE_DIR
#    (default /tmp/modelfit-ccusage) unless present.
# 2. Makes a SIZE_MB transcript by repeating the fixture transcripts' lines with
#    fresh message/request ids (so every repetition is new API responses).
# 3. Full read: `modelfit usage BIG --json` vs `ccusage session --json --offline`
#    (CLAUDE_CONFIG_DIR holding only BIG); checks both totals agree.
# 4. Stop-hook read: `modelfit usage BIG --offset N --json` with N a few KB
#    before the end, beside the same on a 1 MB transcript: must not grow with size.
# Uses hyperfine when installed (apt-get install -y hyperfine), else a timing loop.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-100}
for tool in cargo npm jq; do
  command -v "$tool" >/dev/null || { echo "bench/transcript.sh: '$tool' is required" >&2; exit 2; }
done
CCUSAGE_DIR=${CCUSAGE_DIR:-/tmp/modelfit-ccusage}
CCUSAGE="$CCUSAGE_DIR/node_modules/.bin/ccusage"
if ! [ -x "$CCUSAGE" ] || ! "$CCUSAGE" --version 2>/dev/null | grep -q '20.0.24'; then
  mkdir -p "$CCUSAGE_DIR"
  (cd "$CCUSAGE_DIR" && npm install --no-audit --no-fund --silent ccusage@20.0.24 >/dev/null)
fi
cargo build --release --quiet
MF=$PWD/target/release/modelfit

work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"' EXIT
fx=tests/fixtures/claude-code/transcripts
base="$work/base.jsonl"
find "$fx" -name '*.jsonl' | sort | xargs cat > "$base"
sid=00000000-bench-4000-8000-000000000000
proj="$work/claude/projects/-bench"
big="$proj/$sid.jsonl"
small="$work/small/$sid.jsonl"
mkdir -p "$proj" "$work/small" "$work/home"

make_file() { # target size_bytes
  local target=$1 want=$2 i=0
  : > "$target"
  while [ "$(stat -c %s "$target")" -lt "$want" ]; do
    i=$((i + 1))
    sed -e "s/msg_\([A-Za-z0-9]\{6,\}\)/msg_\1R$i/g" -e "s/req_\([A-Za-z0-9]\{6,\}\)/req_\1R$i/g" "$base" >> "$target"
  done
}
if ! [ -s "$big" ] || [ "$(stat -c %s "$big")" -lt $((SIZE_MB << 20)) ]; then
  make_file "$big" $((SIZE_MB << 20))
fi
make_file "$small" $((1 << 20))
size=$(stat -c %s "$big")
echo "transcript: $big ($((size >> 20)) MB, $(wc -l < "$big") lines)"

# Totals must agree.
"$MF" --home "$work/home" usage "$big" --json > "$work/mf.json"
CLAUDE_CONFIG_DIR="$work/claude" "$CCUSAGE" session --json --offline > "$work/cc.json"
# The fixture lines include the 2.1.39 subagent's (sidechain, with its agentId) and the
# parent's Task result, so modelfit applies its inline-subagent output correction once
# (+5107): compare without it.
mf=$(jq -r '.total | .subagent_output_correction as $c | .tokens | "\(.input) \(.output - $c) \(.cache_creation) \(.cache_read)"' "$work/mf.json")
cc=$(jq -r '.totals | "\(.inputTokens) \(.outputTokens) \(.cacheCreationTokens) \(.cacheReadTokens)"' "$work/cc.json")
echo "totals (input output cache_write cache_read): modelfit $mf | ccusage $cc"
[ "$mf" = "$cc" ] || { echo "totals differ" >&2; exit 1; }

tail_offset() { # file → offset of the first line boundary in the last 8 KB
  local f=$1 s; s=$(stat -c %s "$f")
  local cut=$((s - 8192)); [ $cut -lt 0 ] && cut=0
  local skip; skip=$(tail -c +$((cut + 1)) "$f" | head -c 8192 | grep -b -o -m1 $'\n' | head -1 | cut -d: -f1 || echo 0)
  echo $((cut + ${skip:-0} + 1))
}
off_big=$(tail_offset "$big"); off_small=$(tail_offset "$small")

if command -v hyperfine >/dev/null; then
  hyperfine -N -w 1 -r "${RUNS:-5}" --export-json "$work/full.json" \
    -n modelfit "$MF --home $work/home usage $big --json" \
    -n ccusage "env CLAUDE_CONFIG_DIR=$work/claude $CCUSAGE session --json --offline"
  for n in modelfit ccusage; do
    jq -r --arg n "$n" --argjson size "$size" '.results[] | select(.command == $n)
      | "\($n): median \(.median * 1000 | floor) ms = \($size / 1048576 / .median | floor) MB/s"' "$work/full.json"
  done
  hyperfine -N -w 3 -r "${RUNS_HOOK:-30}" --export-json "$work/hook.json" \
    -n "offset-read ${SIZE_MB}MB" "$MF --home $work/home usage $big --offset $off_big --json" \
    -n "offset-read 1MB" "$MF --home $work/home usage $small --offset $off_small --json"
  jq -r '.results[] | "\(.command): median \(.median * 1e6 | floor) µs"' "$work/hook.json"
else
  t() { local s e; s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
  for i in 1 2 3; do
    echo "modelfit full: $(t "$MF" --home "$work/home" usage "$big" --json) ms; ccusage: $(CLAUDE_CONFIG_DIR="$work/claude" t "$CCUSAGE" session --json --offline) ms"
    echo "offset read: big $(t "$MF" --home "$work/home" usage "$big" --offset "$off_big" --json) ms, small $(t "$MF" --home "$work/home" usage "$small" --offset "$off_small" --json) ms"
  done
fi
