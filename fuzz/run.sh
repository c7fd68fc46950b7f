#!/usr/bin/env bash
# Runs every liqbot fuzz target for SECONDS_PER_TARGET seconds (default 60) and prints a table:
# target, seconds, executions, exec/s, corpus size, crashes. Exits non-zero if any target
# crashed (a panic, a failed invariant, a timeout or running out of memory); the input is then
# in fuzz/artifacts/<target>/ and the log in fuzz/logs/<target>.log.
#
# Usage: fuzz/run.sh [SECONDS_PER_TARGET]
# Environment: FUZZ_SANITIZER (address, default, or none), FUZZ_TARGETS (a space-separated
# subset of the targets).
#
# Seeds: each run first copies the recorded fixtures from tests/fixtures/ (and bot.example.toml)
# into fuzz/corpus/<target>/, with the hand-made seeds of fuzz/seeds/<target>/ and every input
# in fuzz/regressions/<target>/. The corpus grows across runs and is not committed.

set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi
sanitizer="${FUZZ_SANITIZER:-address}"
targets=(${FUZZ_TARGETS:-binance_frame bybit_frame okx_frame rest config commands})

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$fuzz_dir")"
fixtures="$repo/tests/fixtures"
cd "$fuzz_dir"

# seed TARGET FILE...: copies files into the target's corpus, named after their path under
# the repository so that seeds from different folders do not collide. Instrument lists are
# REST bodies: they seed `rest` only, not the frame targets.
seed() {
    local target="$1"
    shift
    mkdir -p "corpus/$target"
    local file
    for file in "$@"; do
        [[ -f "$file" ]] || continue
        local name="${file#"$repo"/}"
        if [[ "$target" == *_frame && "$name" == */instruments* ]]; then
            continue
        fi
        cp "$file" "corpus/$target/seed-${name//\//_}"
    done
}

seed binance_frame "$fixtures"/binance/*.json "$fixtures"/binance/*.txt
seed bybit_frame "$fixtures"/bybit/*.json "$fixtures"/bybit/*.txt
seed okx_frame "$fixtures"/okx/*.json "$fixtures"/okx/*.txt
seed rest "$fixtures"/bybit/instruments_*.json "$fixtures"/okx/instruments*.json \
    "$fixtures"/market/*/*.json "$fixtures"/market/*/*.txt
seed config "$fixtures"/config/*.toml "$repo/bot.example.toml"
for target in "${targets[@]}"; do
    seed "$target" seeds/"$target"/* regressions/"$target"/*
done

dict_for() {
    case "$1" in
        config) echo dicts/config.dict ;;
        commands) echo dicts/commands.dict ;;
        *) echo dicts/json.dict ;;
    esac
}

# Build once, then run the binaries themselves: `cargo fuzz run` would rebuild whenever the
# sources change under a long run, and fuzz a different program from one target to the next.
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "Building the fuzz targets at commit $commit (sanitizer: $sanitizer)..."
cargo +nightly fuzz build --sanitizer "$sanitizer"
host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
# As `cargo fuzz run` does: the bundled SQLite (linked in through sqlx) defines the same static
# twice, which ASan reports as an ODR violation at start-up before any input is read.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"
bin_dir="target/$host/release"

mkdir -p logs
declare -a rows
failed=0
for target in "${targets[@]}"; do
    mkdir -p "artifacts/$target"
    before=$(find "artifacts/$target" -type f | wc -l)
    start=$(date +%s)
    echo "Fuzzing $target for ${seconds}s..."
    status=0
    "$bin_dir/$target" "corpus/$target" -artifact_prefix="artifacts/$target/" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -dict="$(dict_for "$target")" >"logs/$target.log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - start))
    after=$(find "artifacts/$target" -type f | wc -l)
    crashes=$((after - before))
    if [[ $status -ne 0 && $crashes -eq 0 ]]; then
        # libFuzzer failed without leaving an input (a build or start-up error): count it.
        crashes=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$target.log" |
        tail -1 | grep -o '[0-9]*$' || echo '?')
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "logs/$target.log" |
        tail -1 | grep -o '[0-9]*$' || echo '?')
    corpus=$(find "corpus/$target" -type f | wc -l)
    rows+=("$target $elapsed ${execs:-?} ${rate:-?} $corpus $crashes")
    if [[ $crashes -ne 0 ]]; then
        failed=1
        echo "  $target: crash, see fuzz/logs/$target.log and fuzz/artifacts/$target/" >&2
    fi
done

printf '\nliqbot %s, sanitizer %s, %s s per target\n' "$commit" "$sanitizer" "$seconds"
printf '%-14s %8s %12s %8s %8s %8s\n' target seconds executions exec/s corpus crashes
for row in "${rows[@]}"; do
    # shellcheck disable=SC2086
    printf '%-14s %8s %12s %8s %8s %8s\n' $row
done
exit "$failed"
