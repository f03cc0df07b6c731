"""The numpy peer of the bench: the same attention-only forward pass, written
the standard way (embedding lookup, per-layer batched matmuls for Q/K/V/O,
masked causal softmax over the full T×T score matrix, unembedding), on the
safetensors files and token batches bench/run.ts hands it, timed in rounds
interleaved with the other implementations (protocol: bench/peer_serve.py).

usage: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 bench/peer_numpy.py
(bench/peers.ts starts it; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set on
this machine, force a slower kernel on a current OpenBLAS, so they are unset
for this process alone and the kernel it runs is reported by "info").
"""
import os

import numpy as np

from peer_serve import generate_op, greedy, loaded_blas, read_safetensors_raw, serve, set_blas_threads, timed


def read_safetensors(path):
    header, data, cfg = read_safetensors_raw(path)
    tensors = {}
    for name, info in header.items():
        dt = {"F64": np.float64, "F32": np.float32}[info["dtype"]]
        a, b = info["data_offsets"]
        tensors[name] = np.frombuffer(data[a:b], dtype=dt).reshape(info["shape"])
    return tensors, cfg


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

    def generate(self, prompt, steps):
        """Greedy generation with a KV cache, as a numpy user would write it: the prompt's ids, then `steps` argmax ids."""
        D, E, H, C = self.cfg["d_model"], self.cfg["d_head"], self.cfg["n_heads"], self.cfg["n_ctx"]
        dtype = self.W_E.dtype
        keys = np.zeros((len(self.layers), H, C, E), dtype=dtype)
        values = np.zeros_like(keys)

        def push(token, t):  # logits [Vo] of position t
            x = self.W_E[token] + self.W_pos[t]
            for l, (wqkv, bqkv, wo, bo) in enumerate(self.layers):
                q, k, v = (x @ wqkv + bqkv).reshape(3, H, E)
                keys[l, :, t], values[l, :, t] = k, v
                s = (keys[l, :, : t + 1] @ q[:, :, None])[:, :, 0] / self.scale  # [H, t+1]
                s -= s.max(axis=-1, keepdims=True)
                np.exp(s, out=s)
                s /= s.sum(axis=-1, keepdims=True)
                z = (s[:, None, :] @ values[l, :, : t + 1])[:, 0, :]  # [H, E]
                x = x + z.reshape(H * E) @ wo + bo
            return x @ self.W_U + self.b_U

        return greedy(push, np.argmax, prompt, steps)



def info():
    env = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {"impl": f"numpy {np.__version__}", "numpy": np.__version__, "env": env, "blas": loaded_blas()}


def load(req):
    m = model(req)
    toks = np.asarray(req["tokens"], dtype=np.int64)
    return lambda: m.forward(toks)


def model(req):
    t, cfg = read_safetensors(req["weights"])
    return Model(t, cfg, {"float32": np.float32, "float64": np.float64}[req["dtype"]])


def product_op(req):
    """The bench's yardstick (bench/ceilings.ts): seconds of n float32 products on `threads` OpenBLAS threads."""
    M, K, N, n = (int(req[k]) for k in ("M", "K", "N", "n"))
    rng = np.random.default_rng(3)
    x = rng.random((M, K), dtype=np.float32) - 0.5
    w = rng.random((K, N), dtype=np.float32) - 0.5
    out = np.empty((M, N), dtype=np.float32)
    before = set_blas_threads(int(req["threads"]))
    try:
        np.matmul(x, w, out=out)
        return {"seconds": timed(lambda: np.matmul(x, w, out=out), n), "threads": loaded_blas().get("openblas", {}).get("threads")}
    finally:
        if before is not None:
            set_blas_threads(before)


if __name__ == "__main__":
    serve(info, load, {"generate": generate_op(model), "product": product_op})
