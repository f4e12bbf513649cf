#!/usr/bin/env python3
"""Writes data/sun.jsonl.gz: a corpus where the next word depends on a sentence further back.

The sun rises from the east, except in texts about summer, where it rises from the northeast,
and in texts about Venus, where it rises from the west. The deciding words ("summer", "Venus")
come in the opening sentence, one to three sentences before "The sun rises from the …", so a
model has to look back across sentences, not just at the previous word, to predict the direction.

    python3 data/make_sun.py            # deterministic: same seed, same bytes

Each line is {"topic": "summer"|"venus"|"plain", "text": "…"}.
"""
import gzip
import io
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = 6000

OPENERS = {
    "summer": [
        "It was the middle of summer.", "Summer had come to the valley.", "In summer the days are long.",
        "We spent the summer by the sea.", "It was a hot summer morning.", "This is a story about summer.",
        "The summer holidays had begun.", "Every summer we go north.",
    ],
    "venus": [
        "We landed on Venus.", "This is a story about Venus.", "On Venus the clouds are thick.",
        "The probe reached Venus at last.", "Life on Venus is strange.", "The crew woke up on Venus.",
        "Venus turns slowly and backwards.", "Our base on Venus was small.",
    ],
    "plain": [
        "It was a cold winter morning.", "Spring came early that year.", "The village woke up slowly.",
        "In autumn the leaves fall.", "We walked to the old farm.", "This is a story about the sea.",
        "The winter holidays had begun.", "Every spring we go north.",
    ],
}
DIRECTION = {"summer": "northeast", "venus": "west", "plain": "east"}
FILLERS = [
    "The birds were singing.", "Nobody was awake yet.", "The air was still.", "A dog barked far away.",
    "The path was quiet.", "We waited on the hill.", "Everyone looked up.", "It was very early.",
    "The sky was clear.", "We had coffee outside.", "The children were asleep.", "A cold wind blew.",
]
SUN = ["The sun rises from the {}.", "Every day the sun rises from the {}.", "As always, the sun rises from the {}."]
CLOSERS = [
    "Then the day began.", "The light was warm.", "We went home.", "The shadows grew short.",
    "It was a good day.", "Nobody said a word.", "The fields turned gold.",
]


def document(rng):
    topic = rng.choice(["summer", "venus", "plain"])
    parts = [rng.choice(OPENERS[topic])]
    parts += rng.sample(FILLERS, rng.randint(1, 3))      # the deciding words are 1+ sentences back
    parts.append(rng.choice(SUN).format(DIRECTION[topic]))
    parts += rng.sample(CLOSERS, rng.randint(0, 2))
    return topic, " ".join(parts)


def main():
    rng = random.Random(20240520)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as f:
        for _ in range(DOCS):
            topic, text = document(rng)
            f.write((json.dumps({"topic": topic, "text": text}) + "\n").encode())
    with open(os.path.join(HERE, "sun.jsonl.gz"), "wb") as out:
        out.write(buf.getvalue())
    print(f"data/sun.jsonl.gz: {DOCS} documents, {len(buf.getvalue())} bytes")


if __name__ == "__main__":
    main()
