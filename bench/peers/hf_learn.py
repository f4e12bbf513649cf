"""Peer: Hugging Face tokenizers' BpeTrainer over the JSONL.gz corpus (the setup TokenMill's
`learn --pre-tokenizer gpt2` matches). usage: hf_learn.py VOCAB OUT.json FILE…
Threads: RAYON_NUM_THREADS."""
import gzip
import json
import sys

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

vocab, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]


def docs():
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)["text"]


tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train_from_iterator(docs(), trainer)
tok.save(out)
