#!/usr/bin/env python3
"""Reference loss gradients at residual-stream hooks by PyTorch autograd, for LanguageModel.GradientFromHook.

    /usr/bin/python3 make_gradients.py      # Debian's torch 1.13 + NumPy 1.24.2 wrote the committed gradients.json

For four fixture models (../lm/models: gpt2, pythia, llama, gemma2) it re-implements the Hugging Face forward pass in
float64 with plain torch ops, starting from a residual hook whose value is the fixture's own reference activation
(../lm/expected/<model>.safetensors, first two sequences), scores a few next tokens per sequence and differentiates
the summed loss with autograd. Before writing anything it checks its forward against the fixture's reference logits
and losses, so the gradient is that of the model the fixtures pin. Nothing here runs at test time.
"""
import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
LM = os.path.join(HERE, "..", "lm")
SEQUENCES = 2
# (model, hook, positions scored per sequence): the target is the next token of the fixture's input_ids.
CASES = [
    ("gpt2", "blocks.1.hook_resid_mid", [[3, 9, 14, 18], [0, 7, 12]]),
    ("pythia", "blocks.0.hook_resid_post", [[2, 5, 17], [1, 10, 11, 18]]),
    ("llama", "blocks.0.hook_resid_pre", [[4, 8, 15], [0, 6, 13, 18]]),
    ("gemma2", "blocks.0.hook_resid_pre", [[1, 7, 12, 18], [3, 9, 16]]),
]
DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[8 + n + start:8 + n + end]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=DTYPES[info["dtype"]])
        out[name] = torch.from_numpy(a.astype(np.float64) if a.dtype.kind == "f" else a.copy()).reshape(info["shape"])
    return out


def load(model):
    folder = os.path.join(LM, "models", model)
    weights = {}
    for f in sorted(os.listdir(folder)):
        if f.endswith(".safetensors"):
            weights.update(read_safetensors(os.path.join(folder, f)))
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f), weights


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rotate(x, inv_freq):
    """Rotate-half rotary on the first 2·len(inv_freq) dims of x [B, H, T, dh]."""
    r = 2 * inv_freq.shape[0]
    angles = torch.arange(x.shape[2], dtype=torch.float64)[:, None] * inv_freq[None, :]
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    xr, xp = x[..., :r], x[..., r:]
    x1, x2 = xr[..., :r // 2], xr[..., r // 2:]
    return torch.cat([xr * cos + torch.cat([-x2, x1], -1) * sin, xp], -1)


def attend(q, k, v, scale, softcap=0.0, window=0):
    """q [B, H, T, dh], k/v [B, Hkv, T, dh] (GQA: head h reads kv head h // group)."""
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
    s = q @ k.transpose(-1, -2) * scale
    if softcap:
        s = softcap * torch.tanh(s / softcap)
    t = torch.arange(q.shape[2])
    allowed = t[None, :] <= t[:, None]
    if window:
        allowed &= t[None, :] > t[:, None] - window
    s = s.masked_fill(~allowed, float("-inf"))
    return torch.softmax(s, -1) @ v


def heads(x, n):
    B, T, _ = x.shape
    return x.view(B, T, n, -1).transpose(1, 2)


def merge(z):
    B, H, T, dh = z.shape
    return z.transpose(1, 2).reshape(B, T, H * dh)


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def forward_from(model, cfg, w, layer, kind, x):
    """Logits of the model continued from hook (layer, kind) with residual value x [B, T, d]."""
    L = cfg["num_hidden_layers"] if "num_hidden_layers" in cfg else cfg["n_layer"]
    start = layer + 1 if kind == "post" else layer
    for l in range(start, L):
        mid_only = l == layer and kind == "mid"
        if model == "gpt2":
            p, d, H = f"transformer.h.{l}.", cfg["n_embd"], cfg["n_head"]
            eps = cfg["layer_norm_epsilon"]
            if not mid_only:
                h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
                q, k, v = (h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]).split(d, -1)
                z = attend(heads(q, H), heads(k, H), heads(v, H), 1 / math.sqrt(d // H))
                x = x + merge(z) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
            m = gelu_tanh(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
            x = x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        elif model == "pythia":
            p, H, eps = f"gpt_neox.layers.{l}.", cfg["num_attention_heads"], cfg["layer_norm_eps"]
            dh = cfg["hidden_size"] // H
            r = int(dh * cfg["rotary_pct"])
            inv = 1.0 / cfg["rotary_emb_base"] ** (torch.arange(0, r, 2, dtype=torch.float64) / r)
            h = layer_norm(x, w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"], eps)
            qkv = heads(h @ w[p + "attention.query_key_value.weight"].T + w[p + "attention.query_key_value.bias"], H)
            q, k, v = qkv[..., :dh], qkv[..., dh:2 * dh], qkv[..., 2 * dh:]
            z = attend(rotate(q, inv), rotate(k, inv), v, 1 / math.sqrt(dh))
            a = merge(z) @ w[p + "attention.dense.weight"].T + w[p + "attention.dense.bias"]
            h2 = layer_norm(x, w[p + "post_attention_layernorm.weight"], w[p + "post_attention_layernorm.bias"], eps)
            m = torch.nn.functional.gelu(h2 @ w[p + "mlp.dense_h_to_4h.weight"].T + w[p + "mlp.dense_h_to_4h.bias"])
            x = x + a + m @ w[p + "mlp.dense_4h_to_h.weight"].T + w[p + "mlp.dense_4h_to_h.bias"]
        else:  # llama, gemma2
            gemma = model == "gemma2"
            p, H, Hkv, eps = f"model.layers.{l}.", cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["rms_norm_eps"]
            dh = cfg["head_dim"]
            norm = (lambda t, name: rms_norm(t, 1 + w[p + name], eps)) if gemma else (lambda t, name: rms_norm(t, w[p + name], eps))
            inv = 1.0 / cfg["rope_theta"] ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh)
            if not mid_only:
                h = norm(x, "input_layernorm.weight")
                q = rotate(heads(h @ w[p + "self_attn.q_proj.weight"].T, H), inv)
                k = rotate(heads(h @ w[p + "self_attn.k_proj.weight"].T, Hkv), inv)
                v = heads(h @ w[p + "self_attn.v_proj.weight"].T, Hkv)
                if gemma:
                    window = cfg["sliding_window"] if l % 2 == 0 else 0
                    z = attend(q, k, v, cfg["query_pre_attn_scalar"] ** -0.5, cfg["attn_logit_softcapping"], window)
                else:
                    z = attend(q, k, v, 1 / math.sqrt(dh))
                a = merge(z) @ w[p + "self_attn.o_proj.weight"].T
                x = x + (norm(a, "post_attention_layernorm.weight") if gemma else a)
            h = norm(x, "pre_feedforward_layernorm.weight" if gemma else "post_attention_layernorm.weight")
            act = gelu_tanh if gemma else torch.nn.functional.silu
            m = (act(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
            x = x + (norm(m, "post_feedforward_layernorm.weight") if gemma else m)
    if model == "gpt2":
        x = layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], cfg["layer_norm_epsilon"])
        return x @ w["transformer.wte.weight"].T
    if model == "pythia":
        x = layer_norm(x, w["gpt_neox.final_layer_norm.weight"], w["gpt_neox.final_layer_norm.bias"], cfg["layer_norm_eps"])
        return x @ w["embed_out.weight"].T
    if model == "llama":
        return rms_norm(x, w["model.norm.weight"], cfg["rms_norm_eps"]) @ w["lm_head.weight"].T
    logits = rms_norm(x, 1 + w["model.norm.weight"], cfg["rms_norm_eps"]) @ w["model.embed_tokens.weight"].T
    cap = cfg["final_logit_softcapping"]
    return cap * torch.tanh(logits / cap)


def main():
    cases = []
    for model, hook, positions in CASES:
        cfg, w = load(model)
        expected = read_safetensors(os.path.join(LM, "expected", model + ".safetensors"))
        ids = expected["input_ids"][:SEQUENCES]
        layer, kind = int(hook.split(".")[1]), hook.split("hook_resid_")[1]
        x = expected[hook][:SEQUENCES].clone().requires_grad_(True)
        logits = forward_from(model, cfg, w, layer, kind, x)
        ref = expected["logits"][:SEQUENCES]
        err = (logits.detach() - ref).abs().max().item() / ref.abs().max().item()
        assert err < 1e-5, f"{model}: forward from {hook} is {err:.2e} (relative to max) from the fixture's logits"
        logp = torch.log_softmax(logits, -1)
        targets, losses = [], []
        for b, ts in enumerate(positions):
            for t in ts:
                token = int(ids[b, t + 1])
                targets.append([b, t, token])
                losses.append(-logp[b, t, token])
                fixture_loss = expected["loss"][b, t].item()
                assert abs(losses[-1].item() - fixture_loss) < 1e-5 * max(1, abs(fixture_loss)), f"{model}: loss at ({b}, {t})"
        total = torch.stack(losses).sum()
        (grad,) = torch.autograd.grad(total, x)
        cases.append({
            "model": model,
            "hook": hook,
            "sequences": SEQUENCES,
            "context": int(ids.shape[1]),
            "forward_error": float(f"{err:.3g}"),
            "targets": targets,
            "losses": [float(f"{l.item():.12g}") for l in losses],
            "gradient": [float(f"{g:.7g}") for g in grad.reshape(-1).tolist()],
        })
        print(f"{model} {hook}: {len(targets)} targets, loss {total.item():.6f}, max|grad| {grad.abs().max().item():.3g}, forward error {err:.2e}")
    header = {
        "generator": "make_gradients.py (PyTorch autograd, float64)",
        "torch": torch.__version__,
        "value": "expected/<model>.safetensors[hook][:sequences] (the fixture's reference activation)",
        "gradient_layout": "[sequences·context, d_model], row = b·context + t",
    }
    with open(os.path.join(HERE, "gradients.json"), "w") as f:
        f.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]}\n")

if __name__ == "__main__":
    main()
