#!/usr/bin/env bash
# Load benchmark for the fund ledger, through the real protocol: the coordinator's CLI
# verifies the published ledger, the hub checks each batch and answers its root, the CLI
# compares, signs the checkpoint, and the hub stores entries and checkpoint in one
# transaction. Measured on SQLite and on PostgreSQL (durable commits):
#   - entries appended per second with a checkpoint per entry and per 100 entries
#   - `panah verify ledger` over HTTP for the resulting ledger
#   - the receipt page (inclusion proof built from the database and checked) with wrk
#   - the ledger page: compressed size and requests per second
# Needs wrk, curl, python3 and PostgreSQL server binaries.
#
#   bench/ledger.sh [ENTRIES_ONE_PER_CHECKPOINT] [ENTRIES_100_PER_CHECKPOINT]
set -euo pipefail
cd "$(dirname "$0")/.."
ONE="${1:-500}"
HUNDRED="${2:-20000}"
source bench/lib.sh
cat >"$WORK/panah.toml" <<CONF
lookups_per_minute = 10000000
hub_lookups_per_minute = 10000000
CONF

ledger() { "$BIN" ledger --hub "$HUB" --collective roshanai --keyring "$WORK/$1-k1" "${@:2}"; }

seconds() { python3 -c "import time; print(time.monotonic())"; }

run() {
    local label="$1"
    ledger "$label" init --base AFN >/dev/null
    entries_csv "$ONE" "$WORK/one.csv"
    entries_csv "$HUNDRED" "$WORK/hundred.csv"
    t0="$(seconds)"; out="$(ledger "$label" import "$WORK/one.csv" --batch 1 2>/dev/null)"; t1="$(seconds)"
    CODE="$(sed -n 's/^receipt code for entry 0 ([^)]*): //p' <<<"$out")"
    python3 -c "print('  %-10s checkpoint every entry: %5d entries in %6.2f s = %7.0f entries/s' % ('$label', $ONE, $t1 - $t0, $ONE / ($t1 - $t0)))"
    t0="$(seconds)"; ledger "$label" import "$WORK/hundred.csv" --batch 100 >/dev/null 2>&1; t1="$(seconds)"
    python3 -c "print('  %-10s checkpoint every 100:   %5d entries in %6.2f s = %7.0f entries/s' % ('$label', $HUNDRED, $t1 - $t0, $HUNDRED / ($t1 - $t0)))"
    total=$((ONE + HUNDRED))
    t0="$(seconds)"; "$BIN" verify ledger "$HUB/c/roshanai/ledger" --state "$WORK/$label.state" >/dev/null 2>&1; t1="$(seconds)"
    python3 -c "print('  %-10s verify over HTTP:       %5d entries in %6.2f s' % ('$label', $total, $t1 - $t0))"
    cat >"$WORK/receipt.lua" <<LUA
wrk.method = "POST"
wrk.path = "/c/roshanai/ledger/receipt?lang=en"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "code=${CODE// /+}"
LUA
    out="$(wrk -t2 -c4 -d5s --latency -s "$WORK/receipt.lua" "$HUB" 2>&1)"
    printf '  %-10s receipt page (inclusion proof from the database, checked): %s req/s, p50 %s, p99 %s, non-200: %s\n' "$label" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
        "$(awk '$1=="99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $4}' <<<"$out")"
    status="$(curl -s -o "$WORK/receipt.html" -w '%{http_code}' --data "code=${CODE// /+}" "$HUB/c/roshanai/ledger/receipt?lang=en")"
    grep -q "Your gift is in the ledger" "$WORK/receipt.html" || { echo "the receipt was not found (HTTP $status)"; exit 1; }
    out="$(wrk -t2 -c32 -d5s --latency -H 'Accept-Encoding: gzip' "$HUB/c/roshanai/ledger?lang=fa" 2>&1)"
    printf '  %-10s ledger page (%d entries, cached 5 s): %s req/s, p99 %s\n' "$label" "$total" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
    for lang in fa ps en; do
        gz=$(curl -s -H 'Accept-Encoding: gzip' "$HUB/c/roshanai/ledger?lang=$lang" | wc -c)
        br=$(curl -s -H 'Accept-Encoding: br' "$HUB/c/roshanai/ledger?lang=$lang" | wc -c)
        printf '  %-10s /c/roshanai/ledger?lang=%s  gzip %5d B  br %5d B (latest 50 entries shown)\n' "$label" "$lang" "$gz" "$br"
    done
    echo "  $label hub RSS after: $(awk '/VmRSS/ {print $2}' /proc/$HUB_PID/status) KiB, peak $(awk '/VmHWM/ {print $2}' /proc/$HUB_PID/status) KiB"
}

echo "ledger: appends through the CLI and the API, loopback, 2 cores shared"
start_hub SQLite 1
run SQLite
stop_hub

start_postgres
start_hub PostgreSQL 1 --database "$PGURL"
run PostgreSQL
stop_hub
