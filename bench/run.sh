#!/usr/bin/env bash
# Runs every benchmark of issue 9 on this machine and writes BENCHMARKS.md next to README.md.
#
#   bench/run.sh            # SQLite only
#   LIQBOT_BENCH_PG=postgres://postgres@127.0.0.1:5432/test bench/run.sh   # and PostgreSQL
#
# Takes about 10 minutes on 2 cores (most of it filling a 5-million-event store). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet
bin=target/release/liqbot
out=BENCHMARKS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # run TITLE COMMAND...: prints the command and its output into the report
  local title=$1; shift
  echo "== $title" >&2
  {
    echo "### $title"
    echo
    echo '```'
    echo "\$ $*"
    "$@" 2>&1
    echo '```'
    echo
  } >>"$tmp/body.md"
}

# The Python peers the targets were set from, measured on this machine now: the targets assume
# the machine they were set on, and a slower or busier one moves every figure below with them.
# With cryptofeed when /tmp/peervenv has it (see bench/peer.py), else the json.loads bot alone.
peer_python=python3
[[ -x /tmp/peervenv/bin/python ]] && peer_python=/tmp/peervenv/bin/python
run "Calibration: the Python peers on this machine" $peer_python bench/peer.py
run "Parse + normalise + aggregate, one core" $bin bench parse --events 1000000 --runs 5
for venue in binance bybit okx; do
  run "Ingest into SQLite: $venue (simulated frames)" $bin bench ingest --venue "$venue" --events 500000
done
# Recorded-frame input: a Binance fixture frame, 200,000 times with its time and price varied,
# one frame per line as the venue sends it.
python3 - "$tmp/frames.jsonl" <<'PY'
import json, sys
frame = json.load(open("tests/fixtures/binance/long_liquidated.json"))
with open(sys.argv[1], "w") as out:
    for i in range(200_000):
        o = dict(frame["o"], T=frame["o"]["T"] + i * 250, ap=f"{39021 + (i % 500) * 0.5:.2f}")
        out.write(json.dumps(dict(frame, E=frame["E"] + i * 250, o=o), separators=(",", ":")) + "\n")
PY
run "Ingest into SQLite: a file of raw Binance frames" $bin bench ingest --venue binance --frames "$tmp/frames.jsonl"
run "24h summary over 30 days, 5M events, SQLite" $bin bench query --events 5000000 --days 30 --queries 200
if [[ -n "${LIQBOT_BENCH_PG:-}" ]]; then
  run "24h summary over 30 days, 5M events, PostgreSQL" $bin bench query --store "$LIQBOT_BENCH_PG" --events 5000000 --days 30 --queries 200
fi
run "Chart render + PNG encode, 1200x700 (median of 50)" \
  cargo test --release --locked --quiet --test charts -- --ignored --nocapture render_timings_and_examples
run "/heatmap end to end, fake Telegram" $bin bench telegram --commands 200 --per-second 20
run "/heatmap end to end, fake Discord" $bin bench discord --commands 200 --per-second 20
run "One scheduled slot to 1,000 Telegram chats" $bin bench fanout --chats 1000
run "Resident memory, three venues, 30 days of history" $bin bench memory --events 5000000 --days 30 --secs 60

{
  echo "# Benchmarks"
  echo
  echo "Written by \`bench/run.sh\` on $(date -u +%Y-%m-%d). Targets are in issue 9; every figure"
  echo "below is the output of the command above it, on this machine:"
  echo
  echo '```'
  echo "$(lscpu | grep -E 'Model name|^CPU\(s\)' | sed 's/  */ /g')"
  echo "memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
  rustc -V
  echo '```'
  echo
  cat "$tmp/body.md"
} >"$out"
echo "wrote $out" >&2
