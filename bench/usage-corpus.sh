#!/usr/bin/env bash
# `modelfit usage FOLDER` against ccusage 20.0.24 and a known truth, on a
# seeded corpus of Claude Code transcripts (examples/usage_corpus).
#
#   bench/usage-corpus.sh [SIZE_MB] [SEED]      # defaults 100 and 1
#
# 1. Builds modelfit and the generator (release); installs ccusage@20.0.24 into
#    $CCUSAGE_DIR (default /tmp/modelfit-ccusage) unless present. If it cannot
#    be installed, says so and compares modelfit with the truth only.
# 2. Writes a SIZE_MB corpus ($BENCH_DIR, default a temp folder) with truth.json.
# 3. Times one process reading the whole projects/ tree: `modelfit usage DIR
#    --json` and `ccusage session --json --offline` (CLAUDE_CONFIG_DIR=DIR,
#    TZ=UTC), RUNS (default 5) interleaved runs each after a warm-up; prints
#    median wall time, throughput and user+system CPU.
# 4. Per session: modelfit vs truth, ccusage vs truth, and modelfit vs ccusage
#    on every session ccusage gets right. Exit 1 if modelfit differs from
#    ccusage on one of those, or equals the truth on fewer than 95 %.
# Needs: cargo, python3, npm (for ccusage).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-100}
SEED=${2:-1}
RUNS=${RUNS:-5}
for tool in cargo python3; do
  command -v "$tool" >/dev/null || { echo "bench/usage-corpus.sh: '$tool' is required" >&2; exit 2; }
done
CCUSAGE_DIR=${CCUSAGE_DIR:-/tmp/modelfit-ccusage}
CCUSAGE="$CCUSAGE_DIR/node_modules/.bin/ccusage"
if ! [ -x "$CCUSAGE" ] || ! "$CCUSAGE" --version 2>/dev/null | grep -q '20.0.24'; then
  mkdir -p "$CCUSAGE_DIR"
  if ! command -v npm >/dev/null \
     || ! (cd "$CCUSAGE_DIR" && npm install --no-audit --no-fund --silent ccusage@20.0.24 >/dev/null 2>&1) \
     || ! "$CCUSAGE" --version >/dev/null 2>&1; then
    echo "ccusage 20.0.24 could not be installed (npm install ccusage@20.0.24): comparing with the truth only" >&2
    CCUSAGE=
  fi
fi
cargo build --release --quiet --bin modelfit --example usage_corpus
MF=$PWD/target/release/modelfit

work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work/home"
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"' EXIT
if ! [ -s "$work/truth.json" ] || ! grep -q "\"seed\": $SEED," "$work/truth.json"; then
  rm -rf "$work/projects"
  target/release/examples/usage_corpus "$work" "$SEED" "$SIZE_MB"
fi
size=$(du -sb "$work/projects" | cut -f1)
files=$(find "$work/projects" -name '*.jsonl' | wc -l)
echo "corpus: $work/projects ($((size >> 20)) MB, $files files, seed $SEED); $(nproc) cores"

python3 - "$work" "$MF" "${CCUSAGE:-}" "$RUNS" "$size" <<'EOF'
import json, os, statistics, subprocess, sys, time
work, mf, cc, runs, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
env = dict(os.environ, CLAUDE_CONFIG_DIR=work, TZ="UTC")
cmds = {"modelfit": [mf, "--home", f"{work}/home", "usage", f"{work}/projects", "--json"]}
if cc:
    cmds["ccusage"] = [cc, "session", "--json", "--offline"]

def run(cmd):
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {err.decode(errors='replace')}")
    return dt, out

outputs, walls, cpus = {}, {n: [] for n in cmds}, {n: [] for n in cmds}
for name, cmd in cmds.items():          # warm-up (and the outputs compared below)
    outputs[name] = run(cmd)[1]
for _ in range(runs):
    for name, cmd in cmds.items():
        before = os.times()
        dt, _ = run(cmd)
        after = os.times()
        walls[name].append(dt)
        cpus[name].append((after.children_user - before.children_user) + (after.children_system - before.children_system))
for name in cmds:
    w = statistics.median(walls[name])
    print(f"{name:<9} median {w*1000:7.0f} ms  ({min(walls[name])*1000:.0f}–{max(walls[name])*1000:.0f})"
          f"  {size/1048576/w:6.1f} MB/s  CPU {statistics.median(cpus[name])*1000:.0f} ms")

truth = json.load(open(f"{work}/truth.json"))["sessions"]
m = {s["session"]: s for s in json.loads(outputs["modelfit"])["sessions"]}
c = {}
if cc:
    for s in json.loads(outputs["ccusage"])["session"]:
        prev = c.get(s["period"], (0, 0, 0, 0, 0.0))
        c[s["period"]] = tuple(a + b for a, b in zip(prev, (s["inputTokens"], s["outputTokens"],
                              s["cacheCreationTokens"], s["cacheReadTokens"], s["totalCost"])))
def eq(a, b):
    return a[:4] == b[:4] and abs(a[4] - b[4]) <= 1e-6 * max(1.0, abs(a[4]))
mf_ok = cc_ok = same = 0
wrong_kinds = {}
for t in truth:
    tv = (t["input"], t["output"], t["cache_creation"], t["cache_read"], t["cost_usd"])
    s = m[t["session"]]
    mv = (s["tokens"]["input"], s["tokens"]["output"], s["tokens"]["cache_creation"], s["tokens"]["cache_read"], s["cost_usd"] or 0.0)
    mf_ok += eq(mv, tv)
    if not eq(mv, tv):
        print(f"  modelfit != truth  {t['session']} {t['features']}: {mv} vs {tv}")
    if cc:
        cv = c.get(t["session"], (0, 0, 0, 0, 0.0))
        if eq(cv, tv):
            cc_ok += 1
            if eq(mv, cv):
                same += 1
            else:
                print(f"  modelfit != ccusage where ccusage is right  {t['session']}: {mv} vs {cv}")
        else:
            for f in t["features"] or ["plain"]:
                wrong_kinds[f] = wrong_kinds.get(f, 0) + 1
n = len(truth)
print(f"sessions {n}: modelfit = truth {mf_ok} ({100*mf_ok/n:.1f} %)", end="")
if cc:
    print(f"; ccusage = truth {cc_ok}; modelfit = ccusage on {same}/{cc_ok} sessions ccusage gets right")
    print("sessions ccusage gets wrong, by what they hold:", ", ".join(f"{k} {v}" for k, v in sorted(wrong_kinds.items())))
else:
    print(" (ccusage not run)")
sys.exit(0 if mf_ok * 100 >= n * 95 and (not cc or same == cc_ok) else 1)
EOF
