#!/bin/sh
# bench/explicit.sh [RECORDS]
#
# Wall time of the explicit-signal commands on a large ledger, beside the
# floor they cannot beat (reading the file; copying it with fsync, since an
# update rewrites the ledger atomically). Needs hyperfine and awk.
#
#   MODELFIT   binary to measure (default target/release/modelfit)
#   RECORDS    ledger size in records (default 100000, about 100 MB)

set -eu
bin=${MODELFIT:-target/release/modelfit}
n=${1:-100000}
command -v hyperfine >/dev/null || { echo "bench/explicit.sh needs hyperfine (apt-get install -y hyperfine)" >&2; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin: cargo build --release, or set MODELFIT" >&2; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/logs" "$dir/ws/w7"
ws=$(cd "$dir/ws/w7" && pwd -P)
sha=3f2a9c1e5b7d4f608a1c2e3d4b5a69788796a5b4

# Real-shaped dispatch records (~1 KB each) in the orchestrator's formatting;
# every 1000th carries git_commit $sha, a few live in $ws.
awk -v n="$n" -v ws="$ws" -v root="$dir" -v sha="$sha" 'BEGIN {
  printf "[";
  for (i = 0; i < n; i++) {
    w = (i % 10007 == 0) ? ws : sprintf("%s/ws/w%d", root, i % 50);
    d = sprintf("2026-03-%02dT%02d:%02d:%02d.000Z", 1 + i % 28, i % 24, i % 60, i % 60);
    printf "%s\n  {\n    \"id\": \"dispatch-1772%09d-b%05d\",\n    \"workspace\": \"strokmatic.w%d\",\n", (i ? "," : ""), i, i % 100000, i % 50;
    printf "    \"workspace_path\": \"%s\",\n    \"task\": \"Fix the flaky integration test in the status service and add a regression test for the timeout path number %d; keep the public API unchanged and document the change in the changelog.\",\n", w, i;
    printf "    \"complexity\": \"medium\",\n    \"model\": \"claude-sonnet-4-5-20250929\",\n    \"status\": \"complete\",\n    \"created_at\": \"%s\",\n    \"started_at\": \"%s\",\n    \"completed_at\": \"%s\",\n", d, d, d;
    printf "    \"status_history\": [\n      {\n        \"status\": \"running\",\n        \"timestamp\": \"%s\",\n        \"note\": \"batch member started\"\n      },\n      {\n        \"status\": \"complete\",\n        \"timestamp\": \"%s\",\n        \"note\": \"exit 0\"\n      }\n    ],\n", d, d;
    printf "    \"execution_time_seconds\": %d,\n    \"tokens_used\": %d", 30 + i % 900, 10000 + i % 90000;
    if (i % 1000 == 0) printf ",\n    \"git_commit\": \"%s\",\n    \"git_branch\": \"main\"", sha;
    printf "\n  }";
  }
  printf "\n]";
}' > "$dir/logs/dispatches.json"
cp "$dir/logs/dispatches.json" "$dir/pristine.json"
size=$(du -m "$dir/logs/dispatches.json" | cut -f1)
mid=$(printf 'dispatch-1772%09d-b%05d' $((n / 2)) $(( (n / 2) % 100000 )))
echo "ledger: $n records, ${size} MB; binary: $bin"

export ORCHESTRATOR_HOME="$dir" MODELFIT_NOW=2026-03-10T12:00:00.000Z
unset CI CLAUDE_CODE_SESSION_ID 2>/dev/null || true
restore="cp $dir/pristine.json $dir/logs/dispatches.json"

hyperfine -N --warmup 1 --runs 10 --export-markdown "$dir/result.md" \
  --prepare "$restore" \
  -n "floor: cat ledger" "cat $dir/logs/dispatches.json" \
  -n "floor: copy + fsync" "dd if=$dir/logs/dispatches.json of=$dir/copy.json bs=1M conv=fsync status=none" \
  -n "rate ID y (update one record)" "$bin rate $mid y --notes bench" \
  -n "rate last y (scan by directory + update)" "sh -c 'cd $ws && exec $bin rate last y'" \
  -n "rate ID, no terminal (scan, no write)" "setsid $bin rate $mid" \
  -n "ci --commit (scan + update $((n / 1000)) records)" "$bin ci --status success --commit $sha" \
  >/dev/null
cat "$dir/result.md"
