#!/usr/bin/env bash
# Store benchmark (issue 2): append at 1 KB / 10 MB / 100 MB ledgers (must be
# flat), update one record at 10 MB and 100 MB, stream a 1 GB ledger (wall
# time and peak RSS). Usage: bench/store.sh [WORKDIR]   (needs ~1.3 GB of disk)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d /var/tmp/modelfit-bench.XXXXXX)}
cargo build --release --quiet
bin=$PWD/target/release/modelfit
mkdir -p "$work"
echo "# modelfit store benchmark — $(date -u +%FT%TZ), $(nproc) cores, work dir $work"

record=$work/record.json
printf '%s' '{"id":"dispatch-1800000000000-bench0","task":"benchmark append","status":"complete","created_at":"2026-03-02T12:00:00.000Z","tokens_used":1}' > "$record"

declare -A homes
for size in 1K 10M 100M; do
  h=$work/home-$size; mkdir -p "$h/logs"; homes[$size]=$h
  python3 bench/gen_ledger.py "$h/logs/dispatches.json" "$size"
  # The first append after another program wrote the file re-validates it in full;
  # do it once so the timed runs measure the steady state.
  "$bin" --home "$h" ledger append < "$record" > /dev/null
done

echo "## append one record (a process per append, fdatasync included), beside /bin/true"
python3 bench/timeit.py 200 10 \
  /bin/true "$record" -- /bin/true \;\; \
  "append @ 1 KB" "$record" -- "$bin" --home "${homes[1K]}" ledger append \;\; \
  "append @ 10 MB" "$record" -- "$bin" --home "${homes[10M]}" ledger append \;\; \
  "append @ 100 MB" "$record" -- "$bin" --home "${homes[100M]}" ledger append

echo "## append after a foreign write (full validation first) at 100 MB"
for i in 1 2 3; do
  touch "${homes[100M]}/logs/dispatches.json"
  /usr/bin/time -f "  %e s wall, %M KB peak RSS" "$bin" --home "${homes[100M]}" ledger append < "$record" > /dev/null
done

echo "## update one record by id (modelfit outcome: full rewrite, temp + fsync + rename)"
for size in 10M 100M; do
  # A record in the middle of the file.
  id=$(sed -n 's/^    "id": "\(dispatch-[^"]*\)",$/\1/p' "${homes[$size]}/logs/dispatches.json" | awk '{a[NR]=$0} END {print a[int(NR/2)]}')
  python3 bench/timeit.py 10 1 "update @ $size" "$record" -- "$bin" --home "${homes[$size]}" outcome "$id" success
  /usr/bin/time -f "  peak RSS %M KB" "$bin" --home "${homes[$size]}" outcome "$id" failure > /dev/null
done

echo "## stream every record of a 1 GB ledger (modelfit ledger check: typed pass over all records)"
h=$work/home-1G; mkdir -p "$h/logs"
python3 bench/gen_ledger.py "$h/logs/dispatches.json" 1G
ls -l "$h/logs/dispatches.json" | awk '{print "  size " $5 " bytes"}'
for i in 1 2; do
  /usr/bin/time -f "  %e s wall, %U s user, %M KB peak RSS" "$bin" --home "$h" ledger check
done
[ -z "${1:-}" ] && rm -rf "$work"
