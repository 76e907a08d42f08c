#!/usr/bin/env python3
"""Makes examples/lm/model: a tiny GPT-2 trained on the repository's text corpus, in the Hugging Face layout.

It is a demonstration model for the language-model example (examples/lm/README.md): small enough to ship in the
repository and to run every evaluator on 2 cores in minutes, trained enough that its residual stream carries real
structure (words, first letters, topics of the Python standard library's docstrings).

    /usr/bin/python3 examples/lm/make_model.py        # Debian: apt-get install python3-torch python3-numpy python3-regex

Deterministic for a given PyTorch build (seeded; one thread). Writes config.json, tokenizer.json (a byte-level BPE
trained here, GPT-2's pre-tokenizer and byte alphabet) and model.safetensors (float32, Hugging Face GPT-2 tensor
names, tied embeddings: no lm_head.weight). The harness never runs this script; it reads the files it wrote.
"""
import json
import math
import os
import random
import struct
import sys
from collections import Counter

import numpy as np
import regex
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, "data", "text", "python-docstrings.jsonl")
OUT = os.path.join(HERE, "model")

VOCAB = 2048            # 256 bytes + merges + <|endoftext|>
D_MODEL, LAYERS, HEADS, CONTEXT = 96, 3, 4, 128
STEPS, BATCH, LR, SEED = 1500, 16, 3e-3, 0

# GPT-2's pre-tokenizer (the ByteLevel pre-tokenizer with use_regex applies the same pattern).
PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable characters (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHARS = bytes_to_unicode()


def words_of(text):
    return ["".join(BYTE_CHARS[b] for b in piece.encode("utf-8")) for piece in PATTERN.findall(text)]


def train_bpe(texts):
    freq = Counter(w for t in texts for w in words_of(t))
    words = {w: list(w) for w in freq}
    vocab = [BYTE_CHARS[b] for b in range(256)]
    merges = []
    while len(vocab) < VOCAB - 1:
        pairs = Counter()
        for w, symbols in words.items():
            for a, b in zip(symbols, symbols[1:]):
                pairs[a, b] += freq[w]
        if not pairs:
            break
        (a, b), count = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if count < 2:
            break
        merges.append((a, b))
        vocab.append(a + b)
        for w, symbols in words.items():
            i, out = 0, []
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[w] = out
    return vocab, merges


def encoder(vocab, merges):
    ids = {s: i for i, s in enumerate(vocab)}
    rank = {m: i for i, m in enumerate(merges)}
    cache = {}

    def bpe(word):
        if word in cache:
            return cache[word]
        symbols = list(word)
        while len(symbols) > 1:
            best = min(((rank.get((a, b), math.inf), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))))
            if best[0] == math.inf:
                break
            i = best[1]
            symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
        cache[word] = [ids[s] for s in symbols]
        return cache[word]

    return lambda text: [i for w in words_of(text) for i in bpe(w)]


def tokenizer_json(vocab, merges, eos):
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": eos, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": True, "special": True}],
        "normalizer": None, "pre_tokenizer": byte_level,
        "post_processor": dict(byte_level, trim_offsets=False), "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False,
                  "vocab": dict({s: i for i, s in enumerate(vocab)}, **{"<|endoftext|>": eos}),
                  "merges": [f"{a} {b}" for a, b in merges]},
    }


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(D_MODEL)
        self.c_attn = torch.nn.Linear(D_MODEL, 3 * D_MODEL)
        self.c_proj = torch.nn.Linear(D_MODEL, D_MODEL)
        self.ln_2 = torch.nn.LayerNorm(D_MODEL)
        self.c_fc = torch.nn.Linear(D_MODEL, 4 * D_MODEL)
        self.mlp_proj = torch.nn.Linear(4 * D_MODEL, D_MODEL)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, HEADS, d // HEADS).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // HEADS)
        att = att.masked_fill(mask[:t, :t], float("-inf")).softmax(-1)
        x = x + self.c_proj((att @ v).transpose(1, 2).reshape(b, t, d))
        h = self.c_fc(self.ln_2(x))
        h = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))  # gelu_new
        return x + self.mlp_proj(h)


class Gpt2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, D_MODEL)
        self.wpe = torch.nn.Embedding(CONTEXT, D_MODEL)
        self.h = torch.nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = torch.nn.LayerNorm(D_MODEL)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
        self.register_buffer("mask", torch.triu(torch.ones(CONTEXT, CONTEXT, dtype=torch.bool), 1))

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.h:
            x = block(x, self.mask)
        return self.ln_f(x) @ self.wte.weight.T

    def hf_tensors(self):
        """Hugging Face GPT-2 names; Conv1D weights are stored [in, out] (nn.Linear's transpose)."""
        t = {"transformer.wte.weight": self.wte.weight, "transformer.wpe.weight": self.wpe.weight,
             "transformer.ln_f.weight": self.ln_f.weight, "transformer.ln_f.bias": self.ln_f.bias}
        for i, b in enumerate(self.h):
            p = f"transformer.h.{i}."
            t[p + "ln_1.weight"], t[p + "ln_1.bias"] = b.ln_1.weight, b.ln_1.bias
            t[p + "ln_2.weight"], t[p + "ln_2.bias"] = b.ln_2.weight, b.ln_2.bias
            t[p + "attn.c_attn.weight"], t[p + "attn.c_attn.bias"] = b.c_attn.weight.T, b.c_attn.bias
            t[p + "attn.c_proj.weight"], t[p + "attn.c_proj.bias"] = b.c_proj.weight.T, b.c_proj.bias
            t[p + "mlp.c_fc.weight"], t[p + "mlp.c_fc.bias"] = b.c_fc.weight.T, b.c_fc.bias
            t[p + "mlp.c_proj.weight"], t[p + "mlp.c_proj.bias"] = b.mlp_proj.weight.T, b.mlp_proj.bias
        return {k: v.detach().contiguous().numpy().astype("<f4") for k, v in t.items()}


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        data = tensors[name].tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)


def main():
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    texts = [json.loads(line)["text"] for line in open(CORPUS, encoding="utf-8")]
    vocab, merges = train_bpe(texts)
    eos = VOCAB - 1
    vocab = vocab[:eos]
    encode = encoder(vocab, merges)
    stream = []
    for t in texts:  # documents joined by <|endoftext|>, as the harness packs them
        stream += encode(t) + [eos]
    print(f"{len(vocab)} tokens + EOS, {len(merges)} merges, corpus {len(stream)} tokens", file=sys.stderr)
    data = torch.tensor(stream)

    model = Gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    gen = torch.Generator().manual_seed(SEED)
    for step in range(STEPS):
        lr = LR * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / STEPS))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(stream) - CONTEXT, (BATCH,), generator=gen)
        windows = torch.stack([data[s:s + CONTEXT - 1] for s in starts.tolist()])
        ids = torch.cat([torch.full((BATCH, 1), eos), windows], dim=1)  # BOS first, as TransformerLens prepends it
        logits = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == STEPS - 1:
            print(f"step {step} loss {loss.item():.3f}", file=sys.stderr)

    os.makedirs(OUT, exist_ok=True)
    config = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.0,
        "bos_token_id": eos, "eos_token_id": eos, "embd_pdrop": 0.0, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": CONTEXT, "n_embd": D_MODEL, "n_head": HEADS,
        "n_inner": None, "n_layer": LAYERS, "n_positions": CONTEXT, "resid_pdrop": 0.0, "scale_attn_weights": True,
        "tie_word_embeddings": True, "torch_dtype": "float32", "vocab_size": VOCAB,
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges, eos), f, ensure_ascii=False)
    write_safetensors(os.path.join(OUT, "model.safetensors"), model.hf_tensors())
    # Reference for the harness: the mean next-token loss of the first documents' windows (checked by `lm forward`).
    with torch.no_grad():
        ids = torch.tensor([[eos] + encode(texts[0])[:CONTEXT - 1]])
        loss = torch.nn.functional.cross_entropy(model(ids)[0, :-1], ids[0, 1:]).item()
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"text": texts[0], "ids": ids[0].tolist(), "loss": loss}, f)
    print(f"wrote {OUT}; first document loss {loss:.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
