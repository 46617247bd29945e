#!/usr/bin/env bash
# The whole test suite: every crate, against SQLite and a throwaway PostgreSQL cluster,
# with the stock `rage` for interop and headless Chromium for page layout.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p panah-store`).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v rage >/dev/null || missing+=("rage (cargo install rage)")
command -v python3 >/dev/null || missing+=("python3")
command -v curl >/dev/null || missing+=("curl")
command -v chromedriver >/dev/null || missing+=("chromedriver (Debian: apt-get install chromium chromium-driver)")
if [ ${#missing[@]} -gt 0 ]; then
    printf 'missing tools the tests need:\n' >&2
    printf '  %s\n' "${missing[@]}" >&2
    exit 1
fi

source scripts/postgres.sh
start_throwaway_postgres
# Nothing may silently skip: PostgreSQL, rage and Chromium tests must run.
export PANAH_REQUIRE_POSTGRES=1 PANAH_REQUIRE_TOOLS=1
cargo test --workspace --locked "$@"
