"""A TransformerLens-style reading of a `circuits compile` pair, in PyTorch.

Reads MODEL.safetensors with a hand parser (no safetensors package needed),
builds the state dict a HookedTransformer with the sidecar's config holds —
the file's tensors plus the two buffers per layer TransformerLens registers
itself (the causal `mask` and `IGNORE`) — and checks it key for key, as
`load_state_dict(strict=True)` would. Tokenizes with the sidecar's token list
(id 0 is BOS, vocabulary token v is id v + 1) and runs an attention-only
forward written the way TransformerLens computes it (scores / sqrt(d_head),
masked keys set to IGNORE, softmax, z @ W_O + b_O), in float64 and in the
config's dtype.

usage: python3 tl_forward.py JOBS.json
JOBS.json is a list of {"model": MODEL.safetensors, "sidecar": SIDECAR.json,
"inputs": ["a b c", …]} (one process for all: importing torch is slow);
prints a JSON list with one object per job.
"""
import json
import struct
import sys

import torch

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """The tensors of a safetensors file: u64 header length, JSON header, little-endian data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = bytearray(data[8 + n :])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        flat = torch.frombuffer(body[start:end], dtype=DTYPES[info["dtype"]]) if end > start else torch.zeros(0, dtype=DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors, header.get("__metadata__", {})


def expected_keys(cfg):
    """The state-dict keys of an attention-only, normalization-free HookedTransformer."""
    keys = {"embed.W_E", "pos_embed.W_pos", "unembed.W_U", "unembed.b_U"}
    for l in range(cfg["n_layers"]):
        for p in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O", "mask", "IGNORE"):
            keys.add(f"blocks.{l}.attn.{p}")
    return keys


def state_dict(tensors, cfg):
    """The file's tensors plus TransformerLens's own buffers; refuses a missing or extra key (strict loading)."""
    sd = dict(tensors)
    causal = torch.tril(torch.ones(cfg["n_ctx"], cfg["n_ctx"])).bool()
    for l in range(cfg["n_layers"]):
        sd[f"blocks.{l}.attn.mask"] = causal
        sd[f"blocks.{l}.attn.IGNORE"] = torch.tensor(-torch.inf)
    want = expected_keys(cfg)
    missing, extra = sorted(want - sd.keys()), sorted(sd.keys() - want)
    if missing or extra:
        raise SystemExit(f"strict load would fail: missing {missing}, unexpected {extra}")
    return sd


def forward(sd, cfg, tokens, dtype):
    """Logits [T, d_vocab_out] for one sequence of token ids, computed in `dtype`."""
    g = lambda k: sd[k].to(dtype)
    T = len(tokens)
    ids = torch.tensor(tokens)
    x = g("embed.W_E")[ids] + g("pos_embed.W_pos")[:T]
    scale = cfg["d_head"] ** 0.5
    for l in range(cfg["n_layers"]):
        a = f"blocks.{l}.attn."
        q = torch.einsum("pd,hde->hpe", x, g(a + "W_Q")) + g(a + "b_Q")[:, None, :]
        k = torch.einsum("pd,hde->hpe", x, g(a + "W_K")) + g(a + "b_K")[:, None, :]
        v = torch.einsum("pd,hde->hpe", x, g(a + "W_V")) + g(a + "b_V")[:, None, :]
        scores = torch.einsum("hqe,hke->hqk", q, k) / scale
        scores = torch.where(sd[a + "mask"][:T, :T], scores, sd[a + "IGNORE"].to(dtype))
        pattern = torch.softmax(scores, dim=-1)
        z = torch.einsum("hqk,hke->hqe", pattern, v)
        x = x + torch.einsum("hqe,hed->qd", z, g(a + "W_O")) + g(a + "b_O")
    return x @ g("unembed.W_U") + g("unembed.b_U")


def run_job(job):
    """One compiled pair: its checked state dict's keys and the logits of each input."""
    sidecar = json.load(open(job["sidecar"]))
    cfg = sidecar["config"]
    tensors, meta = read_safetensors(job["model"])
    sd = state_dict(tensors, cfg)
    vocab = sidecar["tokens"]  # token strings by id: vocab[0] is BOS
    token_id = {t: i for i, t in enumerate(vocab)}
    encode = lambda text: [0] + [token_id[w] for w in text.split()]
    runs = []
    for text in job["inputs"]:
        ids = encode(text)
        runs.append({
            "ids": ids,
            "float64": forward(sd, cfg, ids, torch.float64).flatten().tolist(),
            "configDtype": forward(sd, cfg, ids, getattr(torch, cfg["dtype"])).to(torch.float64).flatten().tolist(),
        })
    return {
        "keys": sorted(sd.keys()),
        "dtype": cfg["dtype"],
        "metadataTokens": json.loads(meta["tokens"]) if "tokens" in meta else None,
        "runs": runs,
    }


print(json.dumps([run_job(job) for job in json.load(open(sys.argv[1]))]))
