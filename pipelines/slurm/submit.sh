#!/bin/sh
# Submits a TokenMill data pipeline to Slurm as a chain of dependent jobs:
#   hashes (array) → count (array) → learn → shard (array) → merge
# Each array has RANKS tasks; a rank reads a contiguous, byte-balanced share of the inputs.
# A task that fails can be resubmitted alone (sbatch --array=K 04-shard.sbatch): it resumes.
#
#   INPUT='data/*.gz' OUT=out/slurm RANKS=4 VOCAB=8192 pipelines/slurm/submit.sh [sbatch options…]
#
# Every variable has a default; sbatch options (--partition, --cpus-per-task, --time, …) given
# here apply to every job. The scripts run the same `tokenmill` commands as one machine would.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export TOKENMILL="${TOKENMILL:-$(command -v tokenmill || echo "$here/../../.build/release/tokenmill")}"
export INPUT="${INPUT:-$here/../../data}" OUT="${OUT:-out/slurm}" RANKS="${RANKS:-2}" VOCAB="${VOCAB:-4096}"
mkdir -p "$OUT/logs"
last=$((RANKS - 1))
hashes=$(sbatch --parsable "$@" --array=0-$last -o "$OUT/logs/hashes-%a.out" "$here/01-hashes.sbatch")
count=$(sbatch --parsable "$@" --dependency=afterok:$hashes --array=0-$last -o "$OUT/logs/count-%a.out" "$here/02-count.sbatch")
learn=$(sbatch --parsable "$@" --dependency=afterok:$count -o "$OUT/logs/learn.out" "$here/03-learn.sbatch")
shard=$(sbatch --parsable "$@" --dependency=afterok:$learn --array=0-$last -o "$OUT/logs/shard-%a.out" "$here/04-shard.sbatch")
merge=$(sbatch --parsable "$@" --dependency=afterok:$shard -o "$OUT/logs/merge.out" "$here/05-merge.sbatch")
echo "submitted: hashes $hashes, count $count, learn $learn, shard $shard, merge $merge (logs in $OUT/logs)"
