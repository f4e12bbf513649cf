"""Oracle: train Hugging Face's BpeTrainer exactly as TokenMill's `learn --pre-tokenizer gpt2` is
specified to match, and write its tokenizer.json.

usage: hf_train.py DOCS.json VOCAB_SIZE MIN_FREQUENCY OUT.json [SPECIAL…]
DOCS.json is a JSON list of document strings (whole documents, as `train_from_iterator` takes them).
"""
import json
import sys

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

docs_path, vocab_size, min_frequency, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
specials = sys.argv[5:]
docs = json.load(open(docs_path, encoding="utf-8"))
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
trainer = trainers.BpeTrainer(
    vocab_size=vocab_size,
    min_frequency=min_frequency,
    special_tokens=specials,
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tok.train_from_iterator(docs, trainer)
tok.save(out)
