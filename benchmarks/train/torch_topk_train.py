"""TopK SAE training steps in PyTorch CPU: the reference for `saebench bench train` (benchmarks/train/README.md).

The step is the usual PyTorch TopK SAE step (as in dictionary_learning's TopKTrainer and SAELens): encode, row top-k,
ReLU, scatter into a dense code, dense decode, MSE; AuxK on dead latents (k_aux = d_in/2, alpha = 1/32, dead = no fire
for DEAD_WINDOW tokens) decoded densely as well; autograd backward; decoder gradient made tangent to the unit sphere;
Adam; decoder rows renormalised. Prints one JSON line with samples/s over the timed steps.
"""
import argparse, json, math, os, time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--d-in", type=int, default=768)
ap.add_argument("--width", type=int, default=16384)
ap.add_argument("--k", type=int, default=64)
ap.add_argument("--batch-size", type=int, default=4096)
ap.add_argument("--steps", type=int, default=6)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--dead-window", type=int, default=25_000)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
d, F, k, B = args.d_in, args.width, args.k, args.batch_size
k_aux = d // 2

# Synthetic data of the same kind as TrainingBenchmark.SparseRows: sparse non-negative combinations of 4·d unit
# directions (about 8 per row) plus an offset.
features = 4 * d
dirs = torch.nn.functional.normalize(torch.randn(features, d), dim=1)
rows = 16_384
mask = torch.rand(rows, features) < 8.0 / features
coef = (0.5 + torch.rand(rows, features)) * mask
data = coef @ dirs
data[:, 0] += 1.0
data *= math.sqrt(d) / data.norm(dim=1).mean()

W_dec = torch.nn.functional.normalize(torch.randn(F, d), dim=1)
W_enc = torch.nn.Parameter(W_dec.t().clone().contiguous())
W_dec = torch.nn.Parameter(W_dec)
b_enc = torch.nn.Parameter(torch.zeros(F))
b_dec = torch.nn.Parameter(data[:2048].median(dim=0).values.clone())
params = [W_enc, b_enc, W_dec, b_dec]
opt = torch.optim.Adam(params, lr=1e-3)
since_fire = torch.zeros(F, dtype=torch.long)


def step(i):
    global since_fire
    lo = (i * B) % (rows - B)
    x = data[lo:lo + B]
    pre = (x - b_dec) @ W_enc + b_enc
    vals, idx = pre.topk(k, dim=1)
    vals = torch.relu(vals)
    f = torch.zeros_like(pre).scatter(1, idx, vals)
    x_hat = f @ W_dec + b_dec
    e = x - x_hat
    loss = e.pow(2).sum(dim=1).mean()
    fired = torch.zeros(F, dtype=torch.bool)
    fired[idx[vals > 0]] = True
    since_fire = torch.where(fired, torch.zeros_like(since_fire), since_fire + B)
    dead = since_fire >= args.dead_window
    n_dead = int(dead.sum())
    if n_dead > 0:
        kk = min(k_aux, n_dead)
        aux_pre = torch.where(dead[None], pre, torch.full_like(pre, -math.inf))
        av, ai = aux_pre.topk(kk, dim=1)
        z = torch.zeros_like(pre).scatter(1, ai, torch.relu(av))
        e_det = e.detach()
        e_hat = z @ W_dec
        denom = (e_det - e_det.mean(dim=0)).pow(2).sum()
        loss = loss + (1 / 32) * (e_det - e_hat).pow(2).sum() / denom
    opt.zero_grad(set_to_none=False)
    loss.backward()
    with torch.no_grad():
        g = W_dec.grad
        g -= (g * W_dec).sum(dim=1, keepdim=True) * W_dec
    opt.step()
    with torch.no_grad():
        W_dec.div_(W_dec.norm(dim=1, keepdim=True))
    return float(loss), n_dead


for i in range(args.warmup):
    step(i)
t0 = time.perf_counter()
for i in range(args.steps):
    loss, n_dead = step(args.warmup + i)
dt = time.perf_counter() - t0
print(json.dumps({
    "who": "torch", "torch": torch.__version__, "threads": args.threads, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    "d_in": d, "width": F, "k": k, "batch_size": B, "steps": args.steps, "seconds": dt,
    "samples_per_second": args.steps * B / dt, "dead_fraction": n_dead / F, "loss": loss,
}))
