#!/usr/bin/env bash
# kill -9 under a mixed load: the hub is killed KILLS times (20 by default) at random
# moments on SQLite and on a throwaway PostgreSQL, restarted each time, and everything it
# had acknowledged is checked (crates/panah/tests/crash.rs; the suite itself kills 3 times).
# A debug build, as the suite: release builds ignore the tests' cheap keyring cost.
# Prints, per store, the kills survived and the writes acknowledged and found.
#
#   scripts/crash.sh        # 20 kills per store
#   scripts/crash.sh 50
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
source scripts/postgres.sh
start_throwaway_postgres
export PANAH_REQUIRE_POSTGRES=1 PANAH_KILLS="${1:-20}"
log="$(mktemp -t panah-crash.XXXXXX)"
status=0
cargo test -p panah --test crash -- --nocapture --test-threads 1 >"$log" 2>&1 || status=$?
grep -oE 'kill -9 on .*|^test result.*|panicked.*|.* lost.*' "$log" || tail -n 40 "$log"
rm -f "$log"
exit "$status"
