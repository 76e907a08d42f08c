#!/usr/bin/env python3
"""PyTorch CPU peer of `saebench bench lm --shape gpt2-small`: the same forward pass (GPT-2 small shapes,
random float32 weights, full forward to logits [B, T, V]) written with plain torch ops, timed the same way.

Run with Debian's torch (apt-get install -y python3-torch): /usr/bin/python3 benchmarks/lm/torch_forward.py
Prints one JSON object per line: every repetition, then a summary with the best and the median tokens/s.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F


def gpt2_small(vocab=50257, d=768, layers=12, heads=12, ctx=1024, d_mlp=3072, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    w = {"wte": r(vocab, d), "wpe": r(ctx, d), "lnf_w": torch.ones(d), "lnf_b": torch.zeros(d), "blocks": []}
    for _ in range(layers):
        w["blocks"].append({
            "ln1_w": torch.ones(d), "ln1_b": torch.zeros(d),
            "c_attn_w": r(d, 3 * d), "c_attn_b": torch.zeros(3 * d),   # Conv1D layout [in, out], as GPT-2 ships
            "c_proj_w": r(d, d), "c_proj_b": torch.zeros(d),
            "ln2_w": torch.ones(d), "ln2_b": torch.zeros(d),
            "fc_w": r(d, d_mlp), "fc_b": torch.zeros(d_mlp),
            "proj_w": r(d_mlp, d), "proj_b": torch.zeros(d),
        })
    return w


@torch.inference_mode()
def forward(w, ids, heads):
    B, T = ids.shape
    d = w["wte"].shape[1]
    dh = d // heads
    x = w["wte"][ids] + w["wpe"][:T]
    for blk in w["blocks"]:
        h = F.layer_norm(x, (d,), blk["ln1_w"], blk["ln1_b"], 1e-5)
        qkv = torch.addmm(blk["c_attn_b"], h.view(-1, d), blk["c_attn_w"]).view(B, T, 3, heads, dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, H, T, dh]
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
            else _attention(q, k, v)
        z = z.transpose(1, 2).reshape(B * T, d)
        x = x + torch.addmm(blk["c_proj_b"], z, blk["c_proj_w"]).view(B, T, d)
        h = F.layer_norm(x, (d,), blk["ln2_w"], blk["ln2_b"], 1e-5)
        m = F.gelu(torch.addmm(blk["fc_b"], h.view(-1, d), blk["fc_w"]), approximate="tanh")
        x = x + torch.addmm(blk["proj_b"], m, blk["proj_w"]).view(B, T, d)
    x = F.layer_norm(x, (d,), w["lnf_w"], w["lnf_b"], 1e-5)
    return (x.view(-1, d) @ w["wte"].t()).view(B, T, -1)


def _attention(q, k, v):
    T = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    return torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    w = gpt2_small()
    ids = torch.randint(0, 50257, (a.batch, a.context), generator=torch.Generator().manual_seed(1))
    forward(w, ids, 12)  # warm-up
    rates = []
    for i in range(a.repeats):
        t0 = time.perf_counter()
        logits = forward(w, ids, 12)
        dt = time.perf_counter() - t0
        rates.append(a.batch * a.context / dt)
        print(json.dumps({"rep": i, "seconds": round(dt, 4), "tokens_per_s": round(rates[-1], 1), "logits": list(logits.shape)}))
    print(json.dumps({"peer": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": a.batch,
                      "context": a.context, "best_tokens_per_s": round(max(rates), 1),
                      "median_tokens_per_s": round(statistics.median(rates), 1)}))


if __name__ == "__main__":
    main()
