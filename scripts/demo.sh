#!/usr/bin/env bash
# The demo: run pipelines/demo.toml (sample corpus → vocabulary → shards → GPT → samples → report)
# and show where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
TM=.build/release/tokenmill
RUN=out/demo

cat <<TXT
TokenMill demo (pipelines/demo.toml), about 3 minutes on 2 cores:
  1. learn a 4,096-token BPE vocabulary from the sample corpus in data/
     (the King James Bible and the fortunes of Debian's fortune program, 7 MB of text);
  2. encode the corpus into token shards, catalogued in a SQLite index;
  3. pre-train a small GPT-2 (4 layers, 128 channels) on the shards for 800 steps;
  4. let it continue a few prompts, and write a report.
A run that is interrupted resumes where it stopped; a finished one is not redone.

TXT
$TM run pipelines/demo.toml

echo
echo "== the data: what the index says about the shards (tokenmill stats)"
$TM stats $RUN/shards
echo
echo "== the 8 most frequent tokens (' the' is a token with its leading space)"
$TM stats $RUN/shards top --n 8
echo
echo "== what the model says: each prompt (bold) continued by the model"
echo "   (after 800 steps a model this small has learned the style of its corpus, not much sense)"
echo
python3 - "$RUN/samples.json" <<'PY' 2>/dev/null || cat "$RUN/samples.json"
import json, sys
for s in json.load(open(sys.argv[1])):
    print(f"\033[1m{s['prompt']}\033[0m{s['continuation']}\n")
PY
echo "== the model's five likeliest next tokens after a prompt (tokenmill next)"
$TM next --checkpoint $RUN/train --tokenizer $RUN/vocab --prompt "And God said, Let there be" --top 5

cat <<TXT

Everything is in $RUN/:
  $RUN/vocab/tokenizer.json    the vocabulary (Hugging Face tokenizers' format; tokenmill export writes tiktoken and llm.c files)
  $RUN/shards/                 the token shards (llm.c's format) and index.sqlite, their catalogue (query it with sqlite3)
  $RUN/train/                  the training log (log.jsonl), checkpoints model_*.bin (llm.c's format), run.json
  $RUN/samples.json            the samples above
  $RUN/report.html             the report: loss curves, token statistics, samples (open it in a browser)

$TM is the command-line tool; '$TM --help' lists its commands, '$TM COMMAND --help' explains one.
Three things to try next:
  # sample from the model (temperature 0.8: some randomness; --temperature 0 always picks the likeliest token)
  $TM generate --checkpoint $RUN/train --tokenizer $RUN/vocab --prompt "The LORD is my" --temperature 0.8 --top-k 40

  # ask the index how many documents and tokens came from each input file
  sqlite3 $RUN/shards/index.sqlite "SELECT s.path, count(*), sum(d.token_count) FROM documents d JOIN sources s ON s.id = d.source_id GROUP BY s.path"

  # does a small GPT use context from a sentence back? In data/sun.jsonl.gz the sun rises in the east,
  # except in texts about summer (northeast) and Venus (west), where the deciding word comes a sentence
  # or more before "rises". The first command trains a model on it (about a minute; its answers to three
  # new prompts go to out/sun/samples.json and out/sun/report.html), the second asks it one more
  $TM run pipelines/sun.toml
  $TM next --checkpoint out/sun/train --tokenizer out/sun/vocab --prompt "We landed on Venus. The sun rises from the" --top 3
TXT
