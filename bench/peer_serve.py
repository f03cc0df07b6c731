"""What the bench's Python peers share: a safetensors reader, the BLAS that is
really loaded in this process, and the line protocol bench/peers.ts speaks.

Protocol: one JSON object per line on stdin, one JSON reply per line on
stdout (progress goes to stderr). Requests:
  {"op": "info"}                                   → versions, threads, BLAS
  {"op": "load", "id", "weights", "dtype", "tokens"} → model + batch kept under id;
                                                     replies the warm call's seconds
  {"op": "round", "id", "n"}                       → n timed forwards: {"seconds": [...]}
  {"op": "unload", "id"}
  {"op": "quit"}
and whatever extra ops a peer adds (see `serve`): both peers add
  {"op": "generate", "weights", "dtype", "steps", "runs"?, "prompt"?} → greedy KV-cached
                                                     generation: {"seconds": [...], "tokens": [...]}
and the numpy peer
  {"op": "product", "M", "K", "N", "n", "threads"} → n float32 products x[M, K] @ w[K, N] on
                                                     that many OpenBLAS threads: {"seconds": [...], "threads"}
"""
import ctypes
import json
import struct
import sys
import time
import traceback


def read_safetensors_raw(path):
    """(header without metadata, data bytes, config dict) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    return header, memoryview(raw)[8 + n :], json.loads(meta["config"])


def loaded_blas():
    """The BLAS libraries mapped into this process, and what OpenBLAS says of itself.

    /proc/self/maps is the ground truth: it shows which libblas/libopenblas the
    dynamic loader really picked (LD_LIBRARY_PATH, alternatives, wheels)."""
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ("blas" in parts[5].lower() or "mkl" in parts[5].lower()):
                if parts[5] not in libs:
                    libs.append(parts[5])
    found = {"libraries": libs}
    for path in libs:
        sym = openblas_symbols(path)
        if sym is None:
            continue
        corename, config = sym("get_corename"), sym("get_config")
        corename.restype = config.restype = ctypes.c_char_p
        found["openblas"] = {"library": path, "corename": corename().decode(), "config": config().decode(), "threads": sym("get_num_threads")()}
        return found
    return found


def openblas_symbols(path):
    """sym(name) → the library's function `name` under the naming it exports (openblas_…, or a scipy-openblas
    build's scipy_openblas_…64_ / scipy_openblas_…); None when it is not an OpenBLAS or cannot be loaded."""
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix, suffix in (("openblas_", ""), ("scipy_openblas_", "64_"), ("scipy_openblas_", "")):
        if getattr(lib, f"{prefix}get_corename{suffix}", None) is not None:
            return lambda name, p=prefix, s=suffix: getattr(lib, f"{p}{name}{s}")
    return None


def set_blas_threads(n):
    """Set the loaded OpenBLAS's thread count (as loaded_blas finds it); returns the count before, or None without OpenBLAS."""
    ob = loaded_blas().get("openblas")
    if ob is None:
        return None
    setter = openblas_symbols(ob["library"])("set_num_threads")
    setter.argtypes = [ctypes.c_int]
    setter(n)
    return ob["threads"]


def timed(fn, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def greedy(push, argmax, prompt, steps):
    """Greedy generation's ids: push(token, position) → that position's logits; the prompt, then `steps` argmax ids."""
    tokens = list(prompt)
    for t, token in enumerate(prompt):
        logits = push(token, t)
    for s in range(steps):
        tokens.append(int(argmax(logits)))
        if s + 1 < steps:
            logits = push(tokens[-1], len(tokens) - 1)
    return tokens


def generate_op(model):
    """A peer's "generate" op: model(req) → an object with generate(prompt, steps), run `runs` times from
    `prompt` (default [BOS]); replies the seconds of each run and the ids."""

    def op(req):
        m = model(req)
        prompt, steps = req.get("prompt", [0]), int(req["steps"])
        seconds, tokens = [], []
        for _ in range(int(req.get("runs", 3))):
            t0 = time.perf_counter()
            tokens = m.generate(prompt, steps)
            seconds.append(time.perf_counter() - t0)
        return {"seconds": seconds, "tokens": tokens}

    return op


def serve(info, load, extra_ops=None):
    """Answer requests until stdin closes. load(req) → a no-argument forward callable."""
    models = {}
    extra_ops = extra_ops or {}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "info":
                reply = info()
            elif op == "load":
                fn = load(req)
                models[req["id"]] = fn
                fn()  # first call: allocations, lazy init
                reply = {"warm_seconds": timed(fn, 2)}
            elif op == "round":
                reply = {"seconds": timed(models[req["id"]], int(req["n"]))}
            elif op == "unload":
                models.pop(req["id"], None)
                reply = {}
            elif op == "quit":
                break
            elif op in extra_ops:
                reply = extra_ops[op](req)
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as e:  # reported to the bench, which records it beside the figure
            traceback.print_exc(file=sys.stderr)
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
