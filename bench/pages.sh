#!/usr/bin/env bash
# Load benchmark for a public page: `panah serve` against nginx serving a saved copy of the
# same bytes, in one run, on loopback. Also reports idle memory, page weight per language,
# and binary size. Needs wrk and nginx (Debian: apt-get install wrk nginx).
#
#   bench/pages.sh [DURATION_SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-32}"
for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || { echo "bench/pages.sh needs $tool" >&2; exit 1; }
done

cargo build --release --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/panah"
WORK="$(mktemp -d -t panah-bench.XXXXXX)"
cleanup() {
    [ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null || true
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HUB_PORT="$(free_port)"
NGINX_PORT="$(free_port)"

# The demo hub: same sample collective as `panah demo`, logs quiet. Its first start seeds
# the data (a keyring's key derivation, signing, the sample ledger), which a hub does once;
# what runs for weeks is a hub started on its data, so it is started a second time.
start_hub() {
    PANAH_LOG=warn "$BIN" demo --data "$WORK/data" --listen "127.0.0.1:$HUB_PORT" >"$WORK/hub.out" 2>"$WORK/hub.err" &
    HUB_PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/hub.out" 2>/dev/null && break; sleep 0.1; done
    sleep 1
}
start_hub
echo "RSS of panah demo after its first start (seeding the data): $(ps -o rss= -p "$HUB_PID") KiB"
sleep 2   # the demo's needs and cases go in through its own API once it listens
kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true
start_hub
HUB="http://127.0.0.1:$HUB_PORT"
echo "idle RSS of the hub started again on its data: $(ps -o rss= -p "$HUB_PID") KiB"

echo
echo "page weight (bytes: raw / gzip / br):"
for lang in fa ps en; do
    for path in / /c/roshanai; do
        raw=$(curl -s "$HUB$path?lang=$lang" | wc -c)
        gz=$(curl -s -H 'Accept-Encoding: gzip' "$HUB$path?lang=$lang" | wc -c)
        br=$(curl -s -H 'Accept-Encoding: br' "$HUB$path?lang=$lang" | wc -c)
        printf '  %-14s %-3s %6d / %5d / %5d\n' "$path" "$lang" "$raw" "$gz" "$br"
    done
done

# nginx serves the exact bytes panah sends for the Dari appeal (uncompressed, as wrk asks).
mkdir -p "$WORK/www/c"
chmod 755 "$WORK"   # nginx workers run as an unprivileged user
curl -s "$HUB/c/roshanai" -o "$WORK/www/c/roshanai"
cat >"$WORK/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/html;
    client_body_temp_path $WORK/tmp;
    proxy_temp_path $WORK/tmp;
    fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp;
    scgi_temp_path $WORK/tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location / { try_files \$uri =404; }
    }
}
CONF
mkdir -p "$WORK/tmp"
chmod -R a+rX "$WORK/www"
nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"
sleep 0.5
cmp <(curl -s "$HUB/c/roshanai") <(curl -s "http://127.0.0.1:$NGINX_PORT/c/roshanai") && echo "nginx serves the same $(wc -c <"$WORK/www/c/roshanai") bytes"

run_wrk() { wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$1" 2>&1; }
echo
echo "wrk -t2 -c$CONNS -d${DURATION}s, loopback, 2 cores shared by client and server"
PANAH_OUT="$(run_wrk "$HUB/c/roshanai")"
NGINX_OUT="$(run_wrk "http://127.0.0.1:$NGINX_PORT/c/roshanai")"
rps() { awk '/Requests\/sec/ {print $2}' <<<"$1"; }
p99() { awk '$1=="99%" {print $2}' <<<"$1"; }
p50() { awk '$1=="50%" {print $2}' <<<"$1"; }
errors() { grep -E "Non-2xx|Socket errors" <<<"$1" || echo "none"; }
printf '  %-6s %10s req/s   p50 %8s   p99 %8s   errors: %s\n' panah "$(rps "$PANAH_OUT")" "$(p50 "$PANAH_OUT")" "$(p99 "$PANAH_OUT")" "$(errors "$PANAH_OUT")"
printf '  %-6s %10s req/s   p50 %8s   p99 %8s   errors: %s\n' nginx "$(rps "$NGINX_OUT")" "$(p50 "$NGINX_OUT")" "$(p99 "$NGINX_OUT")" "$(errors "$NGINX_OUT")"
python3 -c "print('  panah / nginx throughput ratio: %.2f' % ($(rps "$PANAH_OUT") / $(rps "$NGINX_OUT")))"
echo "RSS of the hub after the load: $(ps -o rss= -p "$HUB_PID") KiB"
echo "release binary: $(stat -c %s "$BIN") bytes"
