#!/bin/sh
# Shard-write and DataLoader throughput (prints "bench ..." lines).
# Usage: bench/shards/loader.sh [million tokens, default 128]
set -e
cd "$(dirname "$0")/../.."
TOKENMILL_BENCH=1 TOKENMILL_BENCH_MTOKENS="${1:-128}" \
    swift test -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --filter LoaderBenchmark 2>&1 | grep '^bench'
