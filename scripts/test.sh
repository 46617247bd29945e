#!/usr/bin/env bash
# The whole test suite: every crate, against SQLite and a throwaway PostgreSQL cluster,
# with the stock `rage` for interop and headless Chromium for page layout.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p panah-store`).
#
# On a fresh Debian or Ubuntu machine it first installs what the tests need and is
# missing (PostgreSQL, Chromium and its driver, fonts with Arabic script, curl, python3,
# and `rage` from crates.io) when run as root; otherwise it prints the one command that
# does. Nothing is installed when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$PATH"

debs=()
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || debs+=(postgresql)
command -v python3 >/dev/null || debs+=(python3)
# The S3-compatible test server (moto) is installed from PyPI into a virtualenv.
python3 -c "import venv, ensurepip" 2>/dev/null || debs+=(python3-venv)
command -v curl >/dev/null || debs+=(curl)
command -v chromium >/dev/null || debs+=(chromium)
# Three hubs behind a load balancer (crates/panah/tests/scale.rs).
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || debs+=(nginx)
command -v chromedriver >/dev/null || debs+=(chromium-driver)
# The pages' right-to-left layout is measured with the fonts a Dari reader's browser uses.
[ -d /usr/share/fonts/truetype/noto ] || debs+=(fonts-noto-core)
need_rage=0
command -v rage >/dev/null || need_rage=1
need_deny=0
command -v cargo-deny >/dev/null || need_deny=1

if [ ${#debs[@]} -gt 0 ] || [ "$need_rage" = 1 ] || [ "$need_deny" = 1 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        if [ ${#debs[@]} -gt 0 ]; then
            echo "installing: ${debs[*]}" >&2
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
        fi
        if [ "$need_rage" = 1 ]; then
            echo "installing rage (the stock age tool) from crates.io" >&2
            cargo install rage --locked --version 0.12.1
        fi
        if [ "$need_deny" = 1 ]; then
            echo "installing cargo-deny (the supply-chain check) from crates.io" >&2
            cargo install cargo-deny --locked --version 0.20.2
        fi
    else
        printf 'the tests need tools this machine lacks. Install them with:\n' >&2
        [ ${#debs[@]} -gt 0 ] && printf '  sudo apt-get install %s\n' "${debs[*]}" >&2
        [ "$need_rage" = 1 ] && printf '  cargo install rage --locked --version 0.12.1\n' >&2
        [ "$need_deny" = 1 ] && printf '  cargo install cargo-deny --locked --version 0.20.2\n' >&2
        printf '(or run this script as root on Debian or Ubuntu, and it installs them itself)\n' >&2
        exit 1
    fi
fi

# The supply chain (deny.toml): licences, second copies of crates, where crates come from.
# (Advisories need GitHub, which CI cannot reach; see README.)
cargo deny --log-level error check licenses bans sources

# A smoke pass of every fuzz target (a few seconds each, from the committed seeds), so
# none rots; scripts/fuzz.sh SECONDS runs them for real. It needs the nightly toolchain.
if rustup run nightly rustc --version >/dev/null 2>&1; then
    scripts/fuzz.sh "${PANAH_FUZZ_SECONDS:-3}"
elif [ -n "${CI:-}" ]; then
    echo "the fuzz smoke pass needs the nightly toolchain, which this machine lacks" >&2
    exit 1
else
    echo "no nightly toolchain: skipping the fuzz smoke pass (CI runs it)" >&2
fi

source scripts/postgres.sh
source scripts/s3.sh
start_throwaway_postgres
start_throwaway_s3
trap 'stop_throwaway_s3; stop_throwaway_postgres' EXIT
# Nothing may silently skip: PostgreSQL, S3, rage and Chromium tests must run.
export PANAH_REQUIRE_POSTGRES=1 PANAH_REQUIRE_TOOLS=1
cargo test --workspace --locked "$@"
