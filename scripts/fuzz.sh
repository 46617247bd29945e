#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each, one after another, with
# libFuzzer through cargo fuzz on the nightly toolchain. Each target starts from its
# committed seeds (fuzz/seeds/TARGET) and keeps what it finds in fuzz/corpus/TARGET (not
# committed). A crash stops the run: its input is in fuzz/artifacts/TARGET; turn it into a
# regression test before fixing it.
#
#   scripts/fuzz.sh 300            # five minutes a target
#   scripts/fuzz.sh 5 scrub codes  # only these targets
#   JOBS=2 scripts/fuzz.sh 600     # two processes a target (one per core)
#
# At the end it prints one line per target: executions, and the corpus it reached.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

seconds="${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}"
shift
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "cargo fuzz needs the nightly toolchain (rustup toolchain list shows none)" >&2
    exit 1
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked --version 0.13.2
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
jobs="${JOBS:-1}"

cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="$(mktemp -t "panah-fuzz-$t.XXXXXX")"
    echo "fuzzing $t for ${seconds}s" >&2
    # -rss_limit_mb: a target that needs more than this has a memory bug.
    if ! cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -jobs="$jobs" -workers="$jobs" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        for f in fuzz-*.log; do [ -f "$f" ] && tail -n 60 "$f" >&2; done
        echo "fuzz target $t FAILED: the crashing input is in fuzz/artifacts/$t" >&2
        exit 1
    fi
    # With -jobs, each worker writes fuzz-N.log; sum their counts.
    cat fuzz-*.log >>"$log" 2>/dev/null || true
    rm -f fuzz-*.log
    runs="$(grep -h '^stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')"
    cov="$(grep -ho 'cov: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')"
    # Said as soon as a target is done, so a crash later keeps the figures before it.
    printf '%-14s %12s executions  coverage %s  corpus %s files\n' "$t" "$runs" "${cov:-?}" "$(ls "corpus/$t" | wc -l)"
    rm -f "$log"
done
echo "fuzz: ${#targets[@]} targets ran, no crash"
