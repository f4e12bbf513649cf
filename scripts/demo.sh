#!/usr/bin/env bash
# The demo: run pipelines/demo.toml (sample corpus → vocabulary → shards → GPT → samples → report)
# and show where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
TM=.build/release/tokenmill
RUN=out/demo

$TM run pipelines/demo.toml

echo
echo "== what the data looks like"
$TM stats $RUN/shards
echo
$TM stats $RUN/shards top --n 8
echo
echo "== what the model says"
python3 - "$RUN/samples.json" <<'PY' 2>/dev/null || cat "$RUN/samples.json"
import json, sys
for s in json.load(open(sys.argv[1])):
    print(f"\033[1m{s['prompt']}\033[0m{s['continuation']}\n")
PY
$TM next --checkpoint $RUN/train --tokenizer $RUN/vocab --prompt "And God said, Let there be" --top 5

cat <<TXT

Everything is in $RUN/:
  $RUN/vocab/tokenizer.json    the vocabulary (Hugging Face format; tokenmill export makes tiktoken/llm.c files)
  $RUN/shards/                 token shards (llm.c format) and index.sqlite (query it with sqlite3)
  $RUN/train/                  log.jsonl, model_*.bin checkpoints (llm.c format), run.json
  $RUN/samples.json            generated samples
  $RUN/report.html             the report: loss curves, token statistics, samples (open it in a browser)

Three commands to try next:
  $TM generate --checkpoint $RUN/train --tokenizer $RUN/vocab --prompt "The LORD is my" --temperature 0.8 --top-k 40
  sqlite3 $RUN/shards/index.sqlite "SELECT s.path, count(*), sum(d.token_count) FROM documents d JOIN sources s ON s.id = d.source_id GROUP BY s.path"
  $TM run pipelines/sun.toml      # the seed's example: where does the sun rise?
TXT
