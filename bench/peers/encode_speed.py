"""Peer: single-thread encode speed of tiktoken and HF tokenizers on the corpus documents.
usage: encode_speed.py tiktoken RANKS PATTERN FILE…   |   encode_speed.py hf TOKENIZER.json FILE…
   |   encode_speed.py tiktoken-preset NAME FILE…
Prints JSON {"mb_per_s": …, "tokens": …}: the best of 2 passes."""
import gzip
import json
import os
import sys

# tiktoken caches rank files by *path* in /tmp/data-gym-cache, so a file rewritten at the same
# path would be read stale; an empty cache dir makes it read the file itself.
os.environ["TIKTOKEN_CACHE_DIR"] = ""
import time

kind = sys.argv[1]
if kind == "tiktoken":
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    enc = tiktoken.Encoding("bench", pat_str=sys.argv[3], mergeable_ranks=load_tiktoken_bpe(sys.argv[2]),
                            special_tokens={"<|endoftext|>": 0})
    fn, files = enc.encode_ordinary, sys.argv[4:]
elif kind == "tiktoken-preset":
    import tiktoken

    enc = tiktoken.get_encoding(sys.argv[2])
    fn, files = enc.encode_ordinary, sys.argv[3:]
else:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(sys.argv[2])
    fn, files = (lambda s: tok.encode(s, add_special_tokens=False).ids), sys.argv[3:]

docs = []
for f in files:
    with gzip.open(f, "rt", encoding="utf-8") as fh:
        docs += [json.loads(line)["text"] for line in fh]
size = sum(len(d.encode()) for d in docs)
best, tokens = float("inf"), 0
for _ in range(2):
    t = time.perf_counter()
    tokens = sum(len(fn(d)) for d in docs)
    best = min(best, time.perf_counter() - t)
print(json.dumps({"mb_per_s": size / max(best, 1e-9) / 1e6, "tokens": tokens, "bytes": size}))
