"""The PyTorch peer of the bench, on 2 threads.

Forward: the same attention-only forward as bench/peer_numpy.py (heads stacked
for one Q/K/V matmul, causal softmax over the full T×T score matrix), on the
safetensors files and token batches bench/run.ts hands it, under
torch.inference_mode, timed in rounds interleaved with the other
implementations (protocol: bench/peer_serve.py).

Generation ("generate" op): greedy decoding with a KV cache, one position per
step, as bench/peer_numpy.py writes it, for the bench's generation section.

Training ("train" op, or `--train` from the command line): the reference
configuration of the learned-circuits issue — an attention-only model with
d_model 64, 4 heads of 16, 2 layers, vocabulary 64, context 64, TransformerLens
parameter names and biases, no LayerNorm, weights drawn N(0, 0.1²) (TransformerLens's default
0.8/√d_model), biases 0; Adam lr 1e-3; every batch of 32 is
16 sequences `[BOS] r r` (r: 31 tokens uniform over 1…63, so 63 tokens) and 16
sequences `[BOS]` + 62 uniform tokens; seeded (torch.manual_seed for the
initialisation, a numpy Generator for the data). The loss is next-token
cross-entropy over all 62 predictions; the "second-copy loss" is the mean loss
on predicting r[1…30] of the second copy (sequence positions 33…62) in the
batch's repeat half. Reported: training tokens/s (63 tokens per sequence),
and the first step whose second-copy loss is below ½·ln 64.

Debian's python3-torch runs under /usr/bin/python3 and links the system
libblas.so.3; bench/peers.ts starts it once as is (reference BLAS by default)
and once with LD_LIBRARY_PATH at Debian's openblas-pthread directory, and
"info" reports what was really mapped (/proc/self/maps, OpenBLAS's own
corename) and a float32 matmul's GFLOP/s.

usage: /usr/bin/python3 bench/peer_torch.py                 (serve, for bench/peers.ts)
       /usr/bin/python3 bench/peer_torch.py --train [SEED] [MAX_STEPS]
"""
import json
import math
import sys
import time

import numpy as np
import torch

from peer_serve import generate_op, greedy, loaded_blas, read_safetensors_raw, serve

torch.set_num_threads(2)

TORCH_DTYPES = {"F64": torch.float64, "F32": torch.float32}


def read_safetensors(path):
    header, data, cfg = read_safetensors_raw(path)
    tensors = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        dt = TORCH_DTYPES[info["dtype"]]
        # bytearray: torch.frombuffer wants a writable buffer; clone detaches it.
        tensors[name] = torch.frombuffer(bytearray(data[a:b]), dtype=dt).reshape(info["shape"]).clone()
    return tensors, cfg


def attn_forward(resid, layers, H, E):
    """Attention-only residual stream: resid [B, T, D] through (wqkv, bqkv, wo, bo) layers."""
    B, T, D = resid.shape
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=resid.device), 1)
    scale = math.sqrt(E)
    for wqkv, bqkv, wo, bo in layers:
        qkv = (resid.reshape(B * T, D) @ wqkv + bqkv).reshape(B, T, 3, H, E)
        q = qkv[:, :, 0].transpose(1, 2)  # [B, H, T, E]
        k = qkv[:, :, 1].permute(0, 2, 3, 1)  # [B, H, E, T]
        v = qkv[:, :, 2].transpose(1, 2)
        scores = (q @ k) / scale
        scores = scores.masked_fill(mask, float("-inf"))
        pattern = torch.softmax(scores, dim=-1)
        z = (pattern @ v).transpose(1, 2).reshape(B * T, H * E)
        resid = resid + (z @ wo + bo).reshape(B, T, D)
    return resid


class ForwardModel:
    """Exported weights rearranged once, as a PyTorch user would: heads stacked for one matmul."""

    def __init__(self, t, cfg, dtype, device="cpu"):
        self.cfg = cfg
        D, E, H = cfg["d_model"], cfg["d_head"], cfg["n_heads"]
        c = lambda a: a.to(device=device, dtype=dtype).contiguous()
        self.W_E, self.W_pos = c(t["embed.W_E"]), c(t["pos_embed.W_pos"])
        self.W_U, self.b_U = c(t["unembed.W_U"]), c(t["unembed.b_U"])
        self.layers = []
        for l in range(cfg["n_layers"]):
            p = f"blocks.{l}.attn."
            stack = lambda w: c(t[p + w].permute(1, 0, 2).reshape(D, H * E))
            wqkv = torch.cat([stack("W_Q"), stack("W_K"), stack("W_V")], dim=1).contiguous()
            bqkv = torch.cat([c(t[p + b]).reshape(H * E) for b in ("b_Q", "b_K", "b_V")])
            self.layers.append((wqkv, bqkv, c(t[p + "W_O"]).reshape(H * E, D).contiguous(), c(t[p + "b_O"])))

    def forward(self, tokens):
        B, T = tokens.shape
        with torch.inference_mode():
            resid = self.W_E[tokens] + self.W_pos[:T]
            resid = attn_forward(resid, self.layers, self.cfg["n_heads"], self.cfg["d_head"])
            return resid.reshape(B * T, -1) @ self.W_U + self.b_U

    def generate(self, prompt, steps):
        """Greedy generation with a KV cache, as a PyTorch user would write it: the prompt's ids, then `steps` argmax ids."""
        D, E, H, C = self.cfg["d_model"], self.cfg["d_head"], self.cfg["n_heads"], self.cfg["n_ctx"]
        scale = math.sqrt(E)
        with torch.inference_mode():
            keys = torch.zeros(len(self.layers), H, C, E, dtype=self.W_E.dtype, device=self.W_E.device)
            values = torch.zeros_like(keys)

            def push(token, t):  # logits [Vo] of position t
                x = self.W_E[token] + self.W_pos[t]
                for l, (wqkv, bqkv, wo, bo) in enumerate(self.layers):
                    q, k, v = (x @ wqkv + bqkv).reshape(3, H, E)
                    keys[l, :, t], values[l, :, t] = k, v
                    s = torch.softmax((keys[l, :, : t + 1] @ q[:, :, None])[:, :, 0] / scale, dim=-1)  # [H, t+1]
                    z = (s[:, None, :] @ values[l, :, : t + 1])[:, 0, :]  # [H, E]
                    x = x + z.reshape(H * E) @ wo + bo
                return x @ self.W_U + self.b_U

            return greedy(push, torch.argmax, prompt, steps)


def matmul_gflops(n=512, dtype=torch.float32, seconds=0.3):
    """GFLOP/s of an n×n float32 product: ~1–3 for the reference BLAS, tens for OpenBLAS."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    runs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or runs < 2:
        a @ b
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - t0) / 1e9


def info():
    import os

    import re

    # build-time settings only (BLAS_INFO=generic means "whatever libblas.so.3 the loader finds")
    build = dict(re.findall(r"\b(BLAS_INFO|LAPACK_INFO|USE_MKLDNN|USE_OPENMP)=(\w+)", torch.__config__.show()))
    return {
        "impl": f"torch {torch.__version__}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": sys.executable,
        "LD_LIBRARY_PATH": os.environ.get("LD_LIBRARY_PATH"),
        "build": build,
        "blas": loaded_blas(),
        "matmul512_f32_gflops": matmul_gflops(),
    }


def model(req):
    t, cfg = read_safetensors(req["weights"])
    return ForwardModel(t, cfg, {"float32": torch.float32, "float64": torch.float64}[req["dtype"]])


def load(req):
    m = model(req)
    toks = torch.tensor(req["tokens"], dtype=torch.long)
    return lambda: m.forward(toks)


# ---------------------------------------------------------------- training


REFERENCE = {
    "d_model": 64, "n_heads": 4, "d_head": 16, "n_layers": 2, "d_vocab": 64, "n_ctx": 64,
    "batch": 32, "lr": 1e-3, "repeat_length": 31,
    # TransformerLens's default initialisation for a model without an explicit init_range: N(0, (0.8/√d_model)²)
    "init_std": 0.8 / math.sqrt(64),
}


class AttnOnly(torch.nn.Module):
    """TransformerLens-shaped attention-only transformer (biases, no LayerNorm)."""

    def __init__(self, c, std):
        super().__init__()
        D, H, E, L, V, C = c["d_model"], c["n_heads"], c["d_head"], c["n_layers"], c["d_vocab"], c["n_ctx"]
        self.H, self.E = H, E
        P = lambda *s: torch.nn.Parameter(torch.randn(*s) * std)
        Z = lambda *s: torch.nn.Parameter(torch.zeros(*s))
        self.W_E, self.W_pos, self.W_U, self.b_U = P(V, D), P(C, D), P(D, V), Z(V)
        self.W_Q = torch.nn.ParameterList([P(H, D, E) for _ in range(L)])
        self.W_K = torch.nn.ParameterList([P(H, D, E) for _ in range(L)])
        self.W_V = torch.nn.ParameterList([P(H, D, E) for _ in range(L)])
        self.W_O = torch.nn.ParameterList([P(H, E, D) for _ in range(L)])
        self.b_Q = torch.nn.ParameterList([Z(H, E) for _ in range(L)])
        self.b_K = torch.nn.ParameterList([Z(H, E) for _ in range(L)])
        self.b_V = torch.nn.ParameterList([Z(H, E) for _ in range(L)])
        self.b_O = torch.nn.ParameterList([Z(D) for _ in range(L)])

    def forward(self, tokens):
        B, T = tokens.shape
        D, H, E = self.W_E.shape[1], self.H, self.E
        resid = self.W_E[tokens] + self.W_pos[:T]
        stack = lambda w: w.permute(1, 0, 2).reshape(D, H * E)
        layers = [
            (torch.cat([stack(self.W_Q[l]), stack(self.W_K[l]), stack(self.W_V[l])], dim=1),
             torch.cat([self.b_Q[l].reshape(-1), self.b_K[l].reshape(-1), self.b_V[l].reshape(-1)]),
             self.W_O[l].reshape(H * E, D), self.b_O[l])
            for l in range(len(self.W_Q))
        ]
        resid = attn_forward(resid, layers, H, E)
        return resid @ self.W_U + self.b_U


CHUNK = 25  # steps per throughput chunk (the spread of tokens/s is over chunks)


def make_batch(rng, c):
    """16 `[BOS] r r` sequences and 16 `[BOS]` + uniform ones, 63 tokens each (BOS = 0)."""
    B, n, V = c["batch"], c["repeat_length"], c["d_vocab"]
    half = B // 2
    r = rng.integers(1, V, size=(half, n))
    bos = np.zeros((B, 1), dtype=np.int64)
    rep = np.concatenate([r, r], axis=1)
    rnd = rng.integers(1, V, size=(B - half, 2 * n))
    return torch.from_numpy(np.concatenate([bos, np.concatenate([rep, rnd], axis=0)], axis=1))


def train(req):
    """Train the reference configuration until the second-copy loss is below ½·ln V (or max_steps)."""
    c = dict(REFERENCE, **{k: v for k, v in req.get("config", {}).items()})
    seed, max_steps = int(req.get("seed", 1)), int(req.get("max_steps", 3000))
    after_bump = int(req.get("steps_after_bump", 0))
    stop_at_bump = bool(req.get("stop_at_bump", True))
    max_seconds = float(req.get("max_seconds", float("inf")))  # keeps the bench bounded on a loaded machine
    device = torch.device(req.get("device", "cpu"))  # bench/peer_gpu.py trains on "cuda"
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = AttnOnly(c, c["init_std"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
    half, n = c["batch"] // 2, c["repeat_length"]
    threshold = 0.5 * math.log(c["d_vocab"])
    tokens_per_step = c["batch"] * (2 * n + 1)
    bump, curve, chunk_rates = None, [], []
    warmup = 5  # steps left out of the throughput (first-call allocations)
    t_start = t_chunk = None
    step = 0
    while step < max_steps:
        step += 1
        if step == warmup + 1:
            t_start = t_chunk = time.perf_counter()
        toks = make_batch(rng, c).to(device)
        logits = model(toks[:, :-1])
        losses = torch.nn.functional.cross_entropy(logits.reshape(-1, c["d_vocab"]), toks[:, 1:].reshape(-1), reduction="none").reshape(toks.shape[0], -1)
        loss = losses.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # prediction index p predicts token p+1; second-copy r[1…30] sit at positions n+2 … 2n
        second = losses[:half, n + 1 : 2 * n].mean().item()
        if step % 50 == 0 or step == 1:
            curve.append({"step": step, "loss": loss.item(), "second_copy": second})
        if bump is None and second < threshold:
            bump = step
            sys.stderr.write(f"[torch train] seed {seed}: second-copy loss {second:.3f} < {threshold:.3f} at step {step}\n")
        if step > warmup and (step - warmup) % CHUNK == 0:
            now = time.perf_counter()
            chunk_rates.append(CHUNK * tokens_per_step / (now - t_chunk))
            t_chunk = now
            if (step - warmup) % 100 == 0:
                sys.stderr.write(f"[torch train] step {step}: loss {loss.item():.3f}, second-copy {second:.3f}, {chunk_rates[-1]:,.0f} tokens/s\n")
        if bump is not None and stop_at_bump and step >= bump + after_bump:
            break
        if t_start is not None and time.perf_counter() - t_start > max_seconds:
            sys.stderr.write(f"[torch train] stopped at step {step}: {max_seconds:.0f} s wall cap\n")
            break
    seconds = time.perf_counter() - t_start
    timed_steps = step - warmup
    rates = sorted(chunk_rates)
    return {
        "config": c, "device": str(device), "seed": seed, "max_steps": max_steps, "max_seconds": max_seconds if math.isfinite(max_seconds) else None, "steps": step, "threads": torch.get_num_threads(),
        "tokens_per_step": tokens_per_step, "timed_steps": timed_steps, "seconds": seconds,
        "tokens_per_s": timed_steps * tokens_per_step / seconds,
        "chunk_tokens_per_s": {"median": rates[len(rates) // 2], "min": rates[0], "max": rates[-1], "chunks": len(rates)} if rates else None,
        "threshold": threshold, "bump_step": bump, "curve": curve,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--train":
        seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
        steps = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
        print(json.dumps({"info": info(), "train": train({"seed": seed, "max_steps": steps})}, indent=1))
    else:
        serve(info, load, {"train": train, "generate": generate_op(model)})
