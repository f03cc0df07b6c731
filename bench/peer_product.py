"""numpy's product on one OpenBLAS thread: the yardstick of the bench's
"what this machine allows" section (bench/ceilings.ts, bench/run.ts).

usage: OPENBLAS_NUM_THREADS=1 python3 bench/peer_product.py M K N runs
Times x[M, K] @ w[K, N] in float32 (after a warm-up) and prints one JSON
line: {"gflops": [...], "blas": loaded_blas()}.
"""
import json
import sys
import time

import numpy as np

from peer_serve import loaded_blas


def main():
    M, K, N, runs = (int(a) for a in sys.argv[1:5])
    rng = np.random.default_rng(3)
    x = rng.random((M, K), dtype=np.float32) - 0.5
    w = rng.random((K, N), dtype=np.float32) - 0.5
    out = np.empty((M, N), dtype=np.float32)
    for _ in range(5):
        np.matmul(x, w, out=out)
    gflops = []
    for _ in range(runs):
        # enough products for about 0.2 s
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.2:
            np.matmul(x, w, out=out)
            n += 1
        gflops.append(2 * M * K * N * n / (time.perf_counter() - t0) / 1e9)
    print(json.dumps({"gflops": gflops, "blas": loaded_blas()}))


if __name__ == "__main__":
    main()
