#!/usr/bin/env bash
# The demo: learn a vocabulary from the sample corpus in data/, then encode and decode a sentence.
set -euo pipefail
cd "$(dirname "$0")/.."
TM=.build/release/tokenmill
OUT=${OUT:-out/demo}

echo "== learn a 4096-token byte-level BPE vocabulary from data/ (KJV Bible + fortunes)"
$TM learn --input 'data/*.gz' --vocab-size 4096 --output "$OUT/vocab"

SENTENCE="In the beginning was the Word, and the Word was with God."
echo
echo "== encode: \"$SENTENCE\""
$TM encode --tokenizer "$OUT/vocab" <<<"$SENTENCE" | tee "$OUT/sentence.ids"
echo "== the pieces (one token per bracket):"
python3 - "$OUT/vocab/tokenizer.json" "$OUT/sentence.ids" <<'PY' 2>/dev/null || true
import json, sys
vocab = {v: k for k, v in json.load(open(sys.argv[1]))["model"]["vocab"].items()}
print(" ".join("[" + vocab[int(i)].replace("Ġ", "␣").replace("Ċ", "⏎") + "]" for i in open(sys.argv[2]).read().split()))
PY
echo "== decode it back:"
$TM decode --tokenizer "$OUT/vocab" "$OUT/sentence.ids"

echo
echo "== export for tiktoken and llm.c"
$TM export --tokenizer "$OUT/vocab" --format tiktoken --output "$OUT/vocab.tiktoken"
$TM export --tokenizer "$OUT/vocab" --format llmc --output "$OUT/vocab_llmc.bin"
ls -l "$OUT/vocab" "$OUT/vocab.tiktoken" "$OUT/vocab_llmc.bin"
echo
echo "Try next:"
echo "  $TM encode --tokenizer $OUT/vocab data/heldout.txt | wc -w        # tokens in the held-out text"
echo "  python3 -c \"from tokenizers import Tokenizer; t = Tokenizer.from_file('$OUT/vocab/tokenizer.json'); print(t.encode('Hello world').ids)\""
echo "  $TM learn --help"
