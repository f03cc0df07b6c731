import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "proofs/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "threads",
    // The plain multiply-add everywhere (the JavaScript kernels' bits, which many tests compare against), also on
    // runtimes with relaxed SIMD; test/kernels/product.test.ts runs the fused kernel in a process of its own.
    env: { CIRCUITS_KERNEL: "plain" },
  },
});
