"""Peer: sharding the way nanoGPT / llm.c data prep does it (llm.c dev/data/fineweb.py):
tiktoken (our exported ranks) encodes documents in a process pool (one process per core,
encode_ordinary_batch per chunk), each document preceded by <|endoftext|>, numpy uint16 arrays
written as llm.c shards (1024-byte header [20240520, 1, n] + tokens).

usage: shard_baseline.py RANKS PATTERN OUT_DIR PROCESSES SHARD_TOKENS FILE…
Prints JSON {"tokens": …, "documents": …, "text_bytes": …}."""
import gzip
import json
import multiprocessing as mp
import os
import sys

# tiktoken caches rank files by *path* in /tmp/data-gym-cache, so a file rewritten at the same
# path would be read stale; an empty cache dir makes it read the file itself.
os.environ["TIKTOKEN_CACHE_DIR"] = ""

import numpy as np
import tiktoken
from tiktoken.load import load_tiktoken_bpe

ranks_path, pattern, out_dir, procs, shard_tokens = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
files = sys.argv[6:]
enc = None


def init():
    global enc
    enc = tiktoken.Encoding("baseline", pat_str=pattern, mergeable_ranks=load_tiktoken_bpe(ranks_path),
                            special_tokens={"<|endoftext|>": 0})


def tokenize(texts):
    eot = enc._special_tokens["<|endoftext|>"]
    out = []
    for ids in enc.encode_ordinary_batch(texts, num_threads=1):
        out.append(eot)
        out.extend(ids)
    a = np.array(out, dtype=np.uint32)
    assert (a < 2**16).all(), "token dictionary too large for uint16"
    return a.astype(np.uint16)


def chunks(n=64):
    batch = []
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                batch.append(json.loads(line)["text"])
                if len(batch) == n:
                    yield batch
                    batch = []
    if batch:
        yield batch


def write_shard(path, tokens):
    header = np.zeros(256, dtype=np.int32)
    header[0], header[1], header[2] = 20240520, 1, len(tokens)
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.tobytes())


def main():
    os.makedirs(out_dir, exist_ok=True)
    buf = np.empty(shard_tokens, dtype=np.uint16)
    fill, index, total, docs, text_bytes = 0, 0, 0, 0, 0
    with mp.Pool(procs, initializer=init) as pool:
        for tokens in pool.imap(tokenize, chunks(), chunksize=4):
            total += len(tokens)
            docs += int((tokens == 0).sum())
            while len(tokens):
                take = min(shard_tokens - fill, len(tokens))
                buf[fill:fill + take] = tokens[:take]
                fill += take
                tokens = tokens[take:]
                if fill == shard_tokens:
                    write_shard(os.path.join(out_dir, f"train_{index:06d}.bin"), buf)
                    index, fill = index + 1, 0
    if fill:
        write_shard(os.path.join(out_dir, f"train_{index:06d}.bin"), buf[:fill])
    print(json.dumps({"tokens": total, "documents": docs}))


if __name__ == "__main__":
    main()
