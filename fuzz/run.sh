#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each; `bash fuzz/run.sh 300` for
# longer), seeded from the checked-in corpus. New inputs go to a throw-away directory, so a run
# never changes the corpus; a crash fails the run and leaves its input in fuzz/artifacts/.
#
# Needs cargo-fuzz (installed when missing) and a nightly toolchain for the fuzz crate only;
# without nightly, RUSTC_BOOTSTRAP=1 lets the stable compiler take the -Z flags cargo fuzz sets.
# No sanitizer: our crates forbid unsafe code; what this hunts is panics and broken invariants.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

targets=(cron job_body query)
"${fuzz[@]}" build -s none --dev 2>&1 | tail -n 3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    echo "fuzz: $target for ${seconds} s"
    if ! "${fuzz[@]}" run -s none --dev "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$scratch/$target.log" 2>&1; then
        tail -n 40 "$scratch/$target.log"
        echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^stat::new_units_added|Done [0-9]+ runs' \
        "$scratch/$target.log" | tr '\n' ' '
    echo
done
echo "fuzz: every target ran ${seconds} s without a crash"
