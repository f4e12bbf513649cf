#!/bin/sh
# Sharder throughput on the sample corpus (prints "bench ..." lines).
# Usage: bench/shards/shard.sh [MB of text, default 40] [vocab size, default 8192]
set -e
cd "$(dirname "$0")/../.."
TOKENMILL_BENCH=1 TOKENMILL_BENCH_MB="${1:-40}" TOKENMILL_BENCH_VOCAB="${2:-8192}" \
    swift test -c release ${SCRATCH:+--scratch-path "$SCRATCH"} --filter SharderBenchmark 2>&1 | grep '^bench'
