#!/usr/bin/env python3
"""Writes the unlearning corpora of examples/lm from the repository's corpus (data/text/python-docstrings.jsonl):
forget-corpus.jsonl = the docstrings of the `logging` module (the topic to unlearn), retain-corpus.jsonl = a seeded
sample of 200 docstrings of the other modules. The question files next to them were written by hand.

    python3 examples/lm/data/make_data.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "data", "text", "python-docstrings.jsonl")

docs = [json.loads(line) for line in open(CORPUS, encoding="utf-8")]
forget = [d for d in docs if d["source"].split(".")[0] == "logging"]
others = [d for d in docs if d["source"].split(".")[0] != "logging"]
retain = random.Random(0).sample(others, 200)
for name, rows in (("forget-corpus.jsonl", forget), ("retain-corpus.jsonl", retain)):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        for d in rows:
            f.write(json.dumps({"text": d["text"], "source": d["source"]}, ensure_ascii=False) + "\n")
print(len(forget), "forget,", len(retain), "retain documents")
