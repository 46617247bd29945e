#!/usr/bin/env bash
# Load benchmark for the contact drop: senders GET the form and POST a 1 KB message, with
# three coordinators, at 4, 16 and 64 concurrent senders, on SQLite and on PostgreSQL. Also
# peak memory during a 50 MB upload, and the weight of the contact and replies pages.
# Needs wrk, curl, and PostgreSQL server binaries (for the PostgreSQL run).
#
#   bench/contact.sh [DURATION_SECONDS]        (SENDERS="16" to run only 16 senders)
#
# With BASELINE_BIN=path/to/an/older/panah, each store runs the older binary and this one
# one after the other, in the same run, for a side-by-side comparison (the older one must
# take the same `admin` and `team` commands).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
source bench/lib.sh
cat >"$WORK/panah.toml" <<CONF
submissions_per_minute = 100000
hub_submissions_per_minute = 1000000
CONF

cpu_ticks() { awk '{print $14 " " $15}' "/proc/$HUB_PID/stat"; }

run_load() {
    local label="$1"
    for conns in ${SENDERS:-4 16 64}; do
        before="$(cpu_ticks)"
        out="$(wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s bench/contact.lua "$HUB" 2>&1)"
        after="$(cpu_ticks)"
        requests="$(awk '/requests in/ {print $1}' <<<"$out")"
        rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
        p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
        p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
        bad="$(awk '/non-200/ {print $3}' <<<"$out")"
        # Half the requests are POSTs.
        subs="$(python3 -c "print('%.0f' % ($rps / 2))")"
        # Hub CPU (user + system) per GET-form-then-POST pair, in microseconds.
        cpu="$(python3 -c "
b, a, hz, pairs = '$before'.split(), '$after'.split(), $(getconf CLK_TCK), $requests / 2
us = lambda i: (int(a[i]) - int(b[i])) / hz * 1e6 / pairs
print('%.0f us (user %.0f + kernel %.0f)' % (us(0) + us(1), us(0), us(1)))")"
        printf '  %-10s %2d senders: %7s requests/s (= %5s submissions/s)  p50 %8s  p99 %8s  hub CPU per GET+POST %s  non-200: %s\n' \
            "$label" "$conns" "$rps" "$subs" "$p50" "$p99" "$cpu" "${bad:-0}"
    done
}

echo "GET form + POST 1 KB message, 3 coordinators; wrk -t2, ${DURATION}s, loopback, 2 cores shared"
THIS_BIN="$BIN"
runs=("now:$THIS_BIN")
[ -n "${BASELINE_BIN:-}" ] && runs=("baseline:$BASELINE_BIN" "now:$THIS_BIN")
start_postgres
n=0
for run in "${runs[@]}"; do
    label="${run%%:*}" BIN="${run#*:}"
    n=$((n + 1))
    echo "$label: $BIN"
    start_hub "sqlite$n" 3
    run_load "SQLite"
    echo "  stored: $(find "$WORK/sqlite$n" -type f | wc -l) files in the data folder"
    stop_hub
    psql "$PANAH_TEST_POSTGRES_URL" -qc "CREATE DATABASE panah_bench_$n" >/dev/null
    start_hub "postgres$n" 3 --database "${PGURL%/*}/panah_bench_$n"
    run_load PostgreSQL
    stop_hub
done
BIN="$THIS_BIN"

start_hub sqlite 3
# Peak memory during one 50 MB upload.
head -c $((50 * 1024 * 1024 - 4096)) /dev/urandom >"$WORK/big.bin"
before="$(awk '/VmHWM/ {print $2}' /proc/$HUB_PID/status)"
status="$(curl -s -o /dev/null -w '%{http_code}' -F "message=big" -F "file=@$WORK/big.bin" "$HUB/c/roshanai/contact")"
after="$(awk '/VmHWM/ {print $2}' /proc/$HUB_PID/status)"
echo "50 MB upload: HTTP $status; peak RSS $before KiB before, $after KiB after"
echo "RSS now: $(awk '/VmRSS/ {print $2}' /proc/$HUB_PID/status) KiB"

echo "page weight (bytes gzip / br):"
for page in contact replies; do
    for lang in fa ps en; do
        gz=$(curl -s -H 'Accept-Encoding: gzip' "$HUB/c/roshanai/$page?lang=$lang" | wc -c)
        br=$(curl -s -H 'Accept-Encoding: br' "$HUB/c/roshanai/$page?lang=$lang" | wc -c)
        printf '  /c/roshanai/%-8s %s  %5d / %5d\n' "$page" "$lang" "$gz" "$br"
    done
done
stop_hub
