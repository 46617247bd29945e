#!/usr/bin/env bash
# The whole test suite: every crate, against SQLite and a throwaway PostgreSQL cluster.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p panah-store`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh
start_throwaway_postgres
export PANAH_REQUIRE_POSTGRES=1
cargo test --workspace --locked "$@"
