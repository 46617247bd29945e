#!/usr/bin/env bash
# Backup and restore of a busy hub, on SQLite and on PostgreSQL (durable commits):
# CONVERSATIONS conversations (default 10,000; 1 KB messages sent through the real contact
# form by wrk) and a ledger of ENTRIES entries (default 100,000; signed by the CLI, a
# checkpoint every 1,000). Measured:
#   - `panah backup` of the serving hub: time and size
#   - `sha256sum -c` of the backup (what an operator can check without Panah)
#   - `panah restore` into a new hub on the same store: time
# Needs wrk, python3 and PostgreSQL server binaries.
#
#   bench/backup.sh [CONVERSATIONS] [ENTRIES]
set -euo pipefail
cd "$(dirname "$0")/.."
CONVERSATIONS="${1:-10000}"
ENTRIES="${2:-100000}"
source bench/lib.sh
cat >"$WORK/panah.toml" <<CONF
submissions_per_minute = 100000
hub_submissions_per_minute = 1000000
CONF
entries_csv "$ENTRIES" "$WORK/entries.csv"

seconds() { python3 -c "import time; print(time.monotonic())"; }
elapsed() { python3 -c "print('%.1f' % ($2 - $1))"; }

run() {
    local label="$1"; shift
    start_hub "$label" 1 "$@"
    "$BIN" ledger --hub "$HUB" --collective roshanai --keyring "$WORK/$label-k1" init --base AFN >/dev/null
    "$BIN" ledger --hub "$HUB" --collective roshanai --keyring "$WORK/$label-k1" import "$WORK/entries.csv" --batch 1000 >/dev/null 2>&1
    # Messages until there are CONVERSATIONS: each wrk POST is a new conversation.
    local sent=0
    while [ "$sent" -lt "$CONVERSATIONS" ]; do
        requests="$(wrk -t2 -c16 -d5s -s bench/contact.lua "$HUB" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')"
        sent=$((sent + requests / 2))
    done
    local t0 t1 t2 t3
    t0="$(seconds)"
    "$BIN" backup "$@" --data "$WORK/$label" "$WORK/$label.backup" >/dev/null
    t1="$(seconds)"
    (cd "$WORK/$label.backup" && sha256sum -c --quiet SHA256SUMS)
    t2="$(seconds)"
    stop_hub
    local size
    size="$(du -sm "$WORK/$label.backup" | cut -f1)"
    local rows
    rows="$(sed -n 's/^conversations = //p; s/^log_entries = //p' "$WORK/$label.backup/panah-backup.toml" | paste -sd/)"
    if [ "$label" = postgres ]; then
        psql "$PANAH_TEST_POSTGRES_URL" -qc "CREATE DATABASE panah_restored" >/dev/null
        set -- --database "${PANAH_TEST_POSTGRES_URL%/*}/panah_restored"
    else
        set --
    fi
    "$BIN" restore "$WORK/$label.backup" "$@" --data "$WORK/$label-restored" >/dev/null
    t3="$(seconds)"
    printf '  %-9s conversations/log entries %s: backup %s s, %s MB; sha256sum -c %s s; restore %s s\n' \
        "$label" "$rows" "$(elapsed "$t0" "$t1")" "$size" "$(elapsed "$t1" "$t2")" "$(elapsed "$t2" "$t3")"
}

echo "backup and restore, $CONVERSATIONS conversations and a $ENTRIES-entry ledger:"
run sqlite
start_postgres
run postgres --database "$PGURL"
