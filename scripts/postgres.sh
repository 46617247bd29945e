# Starts a throwaway PostgreSQL cluster for the tests (fsync off unless PANAH_PG_DURABLE=on); source this file, then call
# `start_throwaway_postgres`. It sets PANAH_TEST_POSTGRES_URL and stops the cluster and
# deletes its folder when the calling shell exits.
#
# Uses the machine's PostgreSQL binaries (Debian: /usr/lib/postgresql/*/bin), a temporary
# folder, and a free port on 127.0.0.1. initdb refuses to run as root, so as root the
# cluster runs as the `postgres` user.

start_throwaway_postgres() {
    local bindir
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$bindir" ] && command -v pg_ctl >/dev/null; then
        bindir="$(dirname "$(command -v pg_ctl)")"
    fi
    if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
        echo "PostgreSQL server binaries not found: install them (Debian: apt-get install postgresql)" >&2
        return 1
    fi
    PANAH_PG_DIR="$(mktemp -d -t panah-pg.XXXXXX)"
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    local run=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$PANAH_PG_DIR"
        run=(runuser -u postgres --)
    fi
    PANAH_PG_RUN=("${run[@]}")
    PANAH_PG_BIN="$bindir"
    "${run[@]}" "$bindir/initdb" -D "$PANAH_PG_DIR/data" -U panah --auth=trust -E UTF8 \
        --no-sync >"$PANAH_PG_DIR/initdb.log" 2>&1 || { cat "$PANAH_PG_DIR/initdb.log" >&2; return 1; }
    "${run[@]}" "$bindir/pg_ctl" -D "$PANAH_PG_DIR/data" -l "$PANAH_PG_DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PANAH_PG_DIR -c max_connections=400 -c fsync=${PANAH_PG_DURABLE:-off} -c synchronous_commit=${PANAH_PG_DURABLE:-off}" \
        start >/dev/null || { cat "$PANAH_PG_DIR/server.log" >&2; return 1; }
    export PANAH_TEST_POSTGRES_URL="postgres://panah@127.0.0.1:$port/postgres"
    trap stop_throwaway_postgres EXIT
    echo "throwaway PostgreSQL at $PANAH_TEST_POSTGRES_URL" >&2
}

stop_throwaway_postgres() {
    if [ -n "${PANAH_PG_DIR:-}" ] && [ -d "$PANAH_PG_DIR/data" ]; then
        "${PANAH_PG_RUN[@]}" "$PANAH_PG_BIN/pg_ctl" -D "$PANAH_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PANAH_PG_DIR"
    fi
}
