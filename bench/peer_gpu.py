"""PyTorch on a GPU (and on 2 CPU threads of the same machine), on the bench's forward cases.

Reads the cases bench/gpuCases.ts writes (the compiled programs' safetensors and
the compiled section's 64 × n_ctx batch plus a 4,096 × n_ctx one; the random dense
model at d_model 512 with the dense section's batches), runs the same forward as
bench/peer_torch.py (heads stacked, full causal softmax, eager mode, inference_mode)
on "cuda" and on "cpu" with 2 threads, float32 and float64; times greedy KV-cached
generation of the generation section's model on both (generation.json, with our ids
to compare); and trains the learned-circuits reference configuration on the GPU to
its induction bump.

Timing: per case, 3 warm-up calls, then 7 rounds of about 0.05 s; a GPU round
ends with torch.cuda.synchronize(), so queued kernels are counted. Tokens/s is
the median over rounds (min–max beside it).

Writes gpu.json and GPU.md into OUT_DIR (the committed ones are bench/gpu.json
and bench/GPU.md). These figures come from another machine than
bench/RESULTS.md's: compare absolute rates, not ratios across the two files.

usage: python3 bench/peer_gpu.py CASES_DIR OUT_DIR
       python3 bench/peer_gpu.py --markdown GPU_JSON     (GPU.md again, from a gpu.json)
"""
import json
import os
import platform
import subprocess
import sys
import time

import torch

from peer_serve import loaded_blas
from peer_torch import ForwardModel, read_safetensors, train

ROUNDS, ROUND_SECONDS, WARMUP = 7, 0.05, 3
GEN_RUNS = 3


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_forward(m, toks, device):
    """Median/min/max tokens/s over ROUNDS rounds of back-to-back forwards."""
    for _ in range(WARMUP):
        m.forward(toks)
    sync(device)
    rates = []
    for _ in range(ROUNDS):
        n, t0 = 0, time.perf_counter()
        while True:
            m.forward(toks)
            n += 1
            if n >= 2 or device.type == "cpu":
                sync(device)
                if time.perf_counter() - t0 >= ROUND_SECONDS:
                    break
        rates.append(toks.numel() * n / (time.perf_counter() - t0))
    rates.sort()
    return {"median": rates[len(rates) // 2], "min": rates[0], "max": rates[-1], "rounds": ROUNDS}


def common_prefix(a, b):
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def time_generation(cases_dir, device):
    """Greedy KV-cached generation of the generation section's model (generation.json), float32 and float64:
    one short warm-up, then GEN_RUNS timed runs; seconds median/min/max and how many leading ids agree with ours."""
    path = os.path.join(cases_dir, "generation.json")
    if not os.path.exists(path):
        return None
    g = json.load(open(path))
    t, cfg = read_safetensors(os.path.join(cases_dir, g["weights"]))
    out = {}
    for dtype, dname, ours in ((torch.float32, "f32", g["ours"]["float32"]), (torch.float64, "f64", g["ours"]["float64"])):
        m = ForwardModel(t, cfg, dtype, device)
        m.generate([0], 32)
        seconds, ids = [], []
        for _ in range(GEN_RUNS):
            t0 = time.perf_counter()
            ids = m.generate([0], g["steps"])
            sync(device)  # each step's argmax already waits for the GPU
            seconds.append(time.perf_counter() - t0)
        seconds.sort()
        out[f"{device.type} {dname}"] = {"median": seconds[len(seconds) // 2], "min": seconds[0], "max": seconds[-1], "runs": GEN_RUNS, "same_ids_as_ours": common_prefix(ids, ours), "ids": len(ours)}
    return out


def gpu_info():
    p = torch.cuda.get_device_properties(0)
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        smi = None
    return {"name": p.name, "multiprocessors": p.multi_processor_count, "memory_gib": p.total_memory / 2**30, "nvidia_smi": smi, "cuda": torch.version.cuda}


def main(cases_dir, out_dir):
    torch.set_num_threads(2)
    cuda = torch.device("cuda")
    cpu = torch.device("cpu")
    started = time.perf_counter()
    info = {
        "torch": torch.__version__, "python": platform.python_version(), "cpu_threads": torch.get_num_threads(),
        "machine_cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(), "gpu": gpu_info(), "blas": loaded_blas(),
    }
    sys.stderr.write(f"[gpu peer] {json.dumps(info)}\n")
    cases = json.load(open(os.path.join(cases_dir, "cases.json")))
    rows = []
    for case in cases:
        t, cfg = read_safetensors(os.path.join(cases_dir, case["weights"]))
        for batch in case["batches"]:
            B, T = len(batch), len(batch[0])
            row = {"case": case["id"], "batch": B, "length": T, "d_model": cfg["d_model"], "figures": {}}
            for dtype, dname in ((torch.float32, "f32"), (torch.float64, "f64")):
                for device in (cuda, cpu):
                    if device.type == "cpu" and B * T > 65536:
                        continue  # the large batches are there for the GPU; the CPU rows match the bench's
                    m = ForwardModel(t, cfg, dtype, device)
                    toks = torch.tensor(batch, dtype=torch.long, device=device)
                    row["figures"][f"{device.type} {dname}"] = time_forward(m, toks, device)
            rows.append(row)
            sys.stderr.write(f"[gpu peer] {time.perf_counter() - started:5.0f} s {case['id']} {B}×{T}: " + ", ".join(f"{k} {v['median']:,.0f}" for k, v in row["figures"].items()) + " tok/s\n")
    generation = None
    for device in (cuda, cpu):
        figures = time_generation(cases_dir, device)
        if figures is not None:
            generation = dict(generation or {}, **figures)
            sys.stderr.write(f"[gpu peer] {time.perf_counter() - started:5.0f} s generation on {device.type}: " + ", ".join(f"{k} {v['median']:.2f} s" for k, v in figures.items()) + "\n")
    training = train({"seed": 1, "max_steps": 3000, "device": "cuda", "max_seconds": 120})
    result = {"info": info, "rows": rows, "generation": generation, "training": {k: v for k, v in training.items() if k != "curve"}, "seconds": time.perf_counter() - started, "load_average_at_end": os.getloadavg()}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "gpu.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(out_dir, "GPU.md"), "w") as f:
        f.write(markdown(result))


def markdown(r):
    i = r["info"]
    num = lambda x: f"{x:,.0f}"
    cell = lambda f: f"{num(f['median'])} ({num(f['min'])}–{num(f['max'])})" if f else ""
    lines = [
        "# PyTorch on a GPU, on the bench's forward cases",
        "",
        "Written by `python3 bench/peer_gpu.py CASES OUT` on the cases of `npx tsx bench/gpuCases.ts`.",
        f"Machine: {i['gpu']['name']} ({i['gpu']['multiprocessors']} multiprocessors, {i['gpu']['memory_gib']:.0f} GiB; {i['gpu']['nvidia_smi']}),",
        f"{i['machine_cpus']} CPUs, load {i['load_average_at_start'][0]:.1f} at the start and {r['load_average_at_end'][0]:.1f} at the end; torch {i['torch']} (CUDA {i['gpu']['cuda']}),",
        f"Python {i['python']}; the CPU rows run torch's own CPU kernels (as its wheel ships them) on {i['cpu_threads']} threads.",
        "This is another machine than bench/RESULTS.md's: its CPU rows are not our machine's, so compare",
        "absolute rates, not ratios across the two files.",
        "",
        f"Tokens/s, median over {ROUNDS} rounds of about {ROUND_SECONDS} s after {WARMUP} warm-up calls (min–max over rounds); eager",
        "mode under inference_mode, the same forward as the CPU peer; each GPU round ends with a synchronize.",
        "",
        "| case | batch × length | cuda f32 | cuda f64 | cpu f32 (2 threads) | cpu f64 (2 threads) |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        g = row["figures"]
        lines.append(f"| {row['case']} | {row['batch']} × {row['length']} | {cell(g.get('cuda f32'))} | {cell(g.get('cuda f64'))} | {cell(g.get('cpu f32'))} | {cell(g.get('cpu f64'))} |")
    gen = r.get("generation")
    if gen:
        steps = next(iter(gen.values()))["ids"] - 1
        lines += [
            "",
            f"Greedy generation of {steps:,} tokens after [BOS] with a KV cache (the generation section's model: d_model 128, 2 layers,",
            "4 heads, vocabulary 512), as bench/peer_torch.py writes it: one position per step, eager; seconds, median of "
            f"{GEN_RUNS} runs after a short warm-up (min–max); \"ids\": leading ids equal to ours in the same precision.",
            "",
            "| device | float32 | float64 |",
            "|---|---|---|",
        ]
        for dev, label in (("cuda", "cuda"), ("cpu", "cpu (2 threads)")):
            cells = []
            for d in ("f32", "f64"):
                f = gen.get(f"{dev} {d}")
                cells.append(f"{f['median']:.2f} s ({f['min']:.2f}–{f['max']:.2f}), ids {f['same_ids_as_ours']:,} of {f['ids']:,}" if f else "")
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    t = r["training"]
    c = t["chunk_tokens_per_s"]
    lines += [
        "",
        f"Training the learned-circuits reference configuration on the GPU (seed {t['seed']}, float32, eager Adam): "
        f"{num(t['tokens_per_s'])} tokens/s over {t['timed_steps']} timed steps"
        + (f" (chunks of 25 steps: {num(c['median'])}, {num(c['min'])}–{num(c['max'])})" if c else "")
        + (f"; second-copy loss below ½·ln 64 at step {t['bump_step']}." if t["bump_step"] else "; no bump within the cap."),
        "",
        f"Whole run: {r['seconds']:.0f} s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--markdown":
        sys.stdout.write(markdown(json.load(open(sys.argv[2]))))
        sys.exit(0)
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    main(sys.argv[1], sys.argv[2])
