"""Peer: how long a first tokenizer load takes in a fresh process (the interpreter's start and
imports not counted), up to a first encode.
usage: load_speed.py tiktoken-preset NAME   |   load_speed.py hf TOKENIZER.json
Prints JSON {"seconds": …, "vocab_size": …}."""
import json
import os
import sys
import time

os.environ["TIKTOKEN_CACHE_DIR"] = ""  # read the rank file itself, as encode_speed.py does
kind = sys.argv[1]
if kind == "tiktoken-preset":
    import tiktoken

    t = time.perf_counter()
    enc = tiktoken.get_encoding(sys.argv[2])
    enc.encode_ordinary("Hello world")
    seconds, size = time.perf_counter() - t, enc.n_vocab
else:
    from tokenizers import Tokenizer

    t = time.perf_counter()
    tok = Tokenizer.from_file(sys.argv[2])
    tok.encode("Hello world", add_special_tokens=False)
    seconds, size = time.perf_counter() - t, tok.get_vocab_size()
print(json.dumps({"seconds": seconds, "vocab_size": size}))
