"""The numpy peer of the bench: the same attention-only forward pass, written
the standard way (embedding lookup, per-layer batched matmuls for Q/K/V/O,
masked causal softmax over the full T×T score matrix, unembedding), timed the
same way as bench/run.ts (warm-up, then the median of several runs).

usage: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/peer_numpy.py JOB.json OUT.json

JOB.json: {"cases": [{"id", "weights": "path.safetensors" | null, "shape": {...} | null,
           "dtype": "float32" | "float64", "batch", "length", "seed", "budget_s"}]}
A case without a weights file draws dense random weights of the given shape.
"""
import json
import os
import struct
import sys
import time

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        dt = {"F64": np.float64, "F32": np.float32}[info["dtype"]]
        a, b = info["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + a : base + b], dtype=dt).reshape(info["shape"])
    return tensors, json.loads(meta["config"])


def random_weights(shape, seed, dtype):
    rng = np.random.default_rng(seed)
    D, E, H, L, C, V = (shape[k] for k in ("d_model", "d_head", "n_heads", "n_layers", "n_ctx", "d_vocab"))
    Vo = shape.get("d_vocab_out", V)
    u = lambda *s: rng.uniform(-1, 1, size=s).astype(dtype)
    t = {"embed.W_E": u(V, D), "pos_embed.W_pos": u(C, D), "unembed.W_U": u(D, Vo), "unembed.b_U": u(Vo)}
    for l in range(L):
        p = f"blocks.{l}.attn."
        t.update({p + "W_Q": u(H, D, E), p + "W_K": u(H, D, E), p + "W_V": u(H, D, E), p + "W_O": u(H, E, D),
                  p + "b_Q": u(H, E), p + "b_K": u(H, E), p + "b_V": u(H, E), p + "b_O": u(D)})
    cfg = dict(shape)
    cfg["d_vocab_out"] = Vo
    return t, cfg


class Model:
    """Weights rearranged once, as any numpy user would: heads stacked for one matmul."""

    def __init__(self, t, cfg, dtype):
        self.cfg = cfg
        D, E, H = cfg["d_model"], cfg["d_head"], cfg["n_heads"]
        c = lambda a: np.ascontiguousarray(a, dtype=dtype)
        self.W_E, self.W_pos = c(t["embed.W_E"]), c(t["pos_embed.W_pos"])
        self.W_U, self.b_U = c(t["unembed.W_U"]), c(t["unembed.b_U"])
        self.layers = []
        for l in range(cfg["n_layers"]):
            p = f"blocks.{l}.attn."
            stack = lambda w: c(np.transpose(t[p + w], (1, 0, 2)).reshape(D, H * E))  # [D, H*E]
            wqkv = np.concatenate([stack("W_Q"), stack("W_K"), stack("W_V")], axis=1)  # [D, 3HE]
            bqkv = np.concatenate([c(t[p + b]).reshape(H * E) for b in ("b_Q", "b_K", "b_V")])
            self.layers.append((wqkv, bqkv, c(t[p + "W_O"]).reshape(H * E, D), c(t[p + "b_O"])))
        self.scale = dtype(np.sqrt(E))

    def forward(self, tokens):  # tokens [B, T] int → logits [B, T, Vo]
        B, T = tokens.shape
        D, E, H = self.cfg["d_model"], self.cfg["d_head"], self.cfg["n_heads"]
        resid = self.W_E[tokens] + self.W_pos[:T]  # [B, T, D]
        neg = np.where(np.triu(np.ones((T, T), dtype=bool), 1), -np.inf, 0).astype(resid.dtype)  # additive causal mask
        for wqkv, bqkv, wo, bo in self.layers:
            qkv = (resid.reshape(B * T, D) @ wqkv + bqkv).reshape(B, T, 3, H, E)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)  # [B, H, T, E]
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)  # [B, H, E, T]
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)  # [B, H, T, E]
            scores = (q @ k) / self.scale  # [B, H, T, T]
            scores += neg
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            z = (scores @ v).transpose(0, 2, 1, 3).reshape(B * T, H * E)  # [B*T, H*E]
            resid = resid + (z @ wo + bo).reshape(B, T, D)
        return resid.reshape(B * T, D) @ self.W_U + self.b_U


def measure(fn, budget_s, min_runs=5, max_runs=15):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or (len(times) < max_runs and time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"median": times[len(times) // 2], "min": times[0], "max": times[-1], "runs": len(times)}


def main():
    job = json.load(open(sys.argv[1]))
    out = {"numpy": np.__version__, "threads_env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE")}, "cases": {}}
    for case in job["cases"]:
        dtype = {"float32": np.float32, "float64": np.float64}[case["dtype"]]
        if case.get("weights"):
            t, cfg = read_safetensors(case["weights"])
        else:
            t, cfg = random_weights(case["shape"], case.get("seed", 1), dtype)
        m = Model(t, cfg, dtype)
        rng = np.random.default_rng(case.get("seed", 1))
        toks = rng.integers(0, cfg["d_vocab"], size=(case["batch"], case["length"]))
        toks[:, 0] = 0
        r = measure(lambda: m.forward(toks), case.get("budget_s", 1.0))
        r["tokens_per_s"] = case["batch"] * case["length"] / r["median"]
        out["cases"][case["id"]] = r
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
