# Starts a throwaway S3-compatible server for the tests; source this file, then call
# `start_throwaway_s3`. It sets PANAH_TEST_S3_ENDPOINT (a bucket `panah-test` exists there)
# and the AWS_* variables the hub reads its credentials from; `stop_throwaway_s3` stops it.
#
# The server is moto's (PyPI `moto[server]`, pinned), in a virtualenv kept in
# ~/.cache/panah. moto implements S3 from AWS's own API descriptions — multipart uploads,
# ListObjectsV2, HEAD, conditional requests, path-style addressing — the parts
# `object_store` uses; it needs no account and runs on 127.0.0.1. (MinIO, the usual
# self-hosted choice, is not packaged on PyPI or npm.)

PANAH_MOTO_VERSION=5.2.5

start_throwaway_s3() {
    local venv="${PANAH_S3_VENV:-$HOME/.cache/panah/moto-$PANAH_MOTO_VERSION}"
    if [ ! -x "$venv/bin/moto_server" ]; then
        echo "installing moto $PANAH_MOTO_VERSION (the tests' S3-compatible server) from PyPI" >&2
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$PANAH_MOTO_VERSION" >&2
    fi
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    PANAH_S3_LOG="$(mktemp -t panah-s3.XXXXXX)"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$PANAH_S3_LOG" 2>&1 &
    PANAH_S3_PID=$!
    export PANAH_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
    local i
    for i in $(seq 1 100); do
        curl -fsS -o /dev/null -X PUT "$PANAH_TEST_S3_ENDPOINT/panah-test" 2>/dev/null && break
        sleep 0.2
    done
    curl -fsS -o /dev/null "$PANAH_TEST_S3_ENDPOINT/panah-test" || {
        cat "$PANAH_S3_LOG" >&2
        return 1
    }
    # moto takes any credentials; the hub, like any S3 client, signs with these.
    export AWS_ACCESS_KEY_ID=panah-test AWS_SECRET_ACCESS_KEY=panah-test-secret AWS_REGION=us-east-1
    echo "throwaway S3 (moto) at $PANAH_TEST_S3_ENDPOINT" >&2
}

stop_throwaway_s3() {
    if [ -n "${PANAH_S3_PID:-}" ]; then
        kill "$PANAH_S3_PID" 2>/dev/null || true
        wait "$PANAH_S3_PID" 2>/dev/null || true
        rm -f "$PANAH_S3_LOG"
        PANAH_S3_PID=
    fi
}
