# Shared by the load benchmarks (source it from the repository root): a release build, a
# work folder removed on exit, and starting and stopping a hub on a free loopback port.
# Write "$WORK/panah.toml" (hub settings) before calling start_hub.
cargo build --release --quiet -p panah
BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/panah"
WORK="$(mktemp -d -t panah-bench.XXXXXX)"
HUB_PID=""
stop_hub() { [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null; HUB_PID=""; }
cleanup() { stop_hub; rm -rf "$WORK"; }
trap cleanup EXIT
source scripts/postgres.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export PANAH_PASSPHRASE="benchmark passphrase"
export PANAH_LEDGER_STATE_DIR="$WORK/state" PANAH_PROFILES="$WORK/profiles.toml"
touch "$WORK/panah.toml"

# start_hub NAME COORDINATORS [DATABASE ARGS…]: a hub with the collective roshanai and
# COORDINATORS coordinators whose keyrings are "$WORK/NAME-k1"…; sets HUB and HUB_PID. The
# first is the founder, who signs the others onto the team log once the hub runs.
start_hub() {
    local name="$1" coordinators="$2"; shift 2
    local data="$WORK/$name"
    local lines=()
    "$BIN" admin init "$@" --data "$data" >/dev/null
    "$BIN" admin create-collective "$@" --data "$data" roshanai --name-fa "روشنایی" --name-ps "رڼا" --name-en Roshanai >/dev/null
    for i in $(seq "$coordinators"); do
        lines+=("$("$BIN" id new --keyring "$data-k$i" 2>/dev/null)")
    done
    "$BIN" admin add-coordinator "$@" --data "$data" roshanai "${lines[0]}" >/dev/null
    PORT="$(free_port)"
    PANAH_LOG=warn "$BIN" serve "$@" --data "$data" --config "$WORK/panah.toml" --listen "127.0.0.1:$PORT" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    HUB_PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/$name.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening on" "$WORK/$name.out" || { echo "the hub did not start:"; cat "$WORK/$name.err"; exit 1; }
    HUB="http://127.0.0.1:$PORT"
    local team=("$BIN" team --hub "$HUB" --collective roshanai --keyring "$data-k1")
    "${team[@]}" >/dev/null 2>&1
    for line in "${lines[@]:1}"; do
        "${team[@]}" add "$line" >/dev/null 2>&1
    done
}

# start_postgres: a throwaway cluster with durable commits, as a real deployment has
# them, and an empty database; sets PGURL.
start_postgres() {
    PANAH_PG_DURABLE=on start_throwaway_postgres 2>/dev/null
    psql "$PANAH_TEST_POSTGRES_URL" -qc "CREATE DATABASE panah_bench" >/dev/null
    PGURL="${PANAH_TEST_POSTGRES_URL%/*}/panah_bench"
}

# entries_csv N FILE: N realistic ledger entries as CSV; the first asks for a receipt code.
entries_csv() {
    python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
cats = ["food", "power", "shelter", "medical", "documents", "communications", "fees", "other"]
with open(path, "w") as f:
    f.write("date,kind,category,amount,currency,base_amount,rail,memo,receipt\n")
    for i in range(n):
        kind = "income" if i % 5 == 0 else "expense"
        receipt = "yes" if i == 0 else ""
        f.write(f"2021-09-01,{kind},{cats[i % len(cats)]},{1000 + i},AFN,,cash,flour rice and oil for family group {i},{receipt}\n")
PY
}

