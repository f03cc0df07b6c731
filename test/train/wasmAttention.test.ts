import { describe, expect, it } from "vitest";
import { attendBackward, attendForward } from "../../src/train/attention.ts";
import { attendBackwardWasm, attendForwardWasm, attentionKernels, wasmFloats } from "../../src/train/wasmAttention.ts";
import { Rng } from "../../src/train/rng.ts";

describe("WebAssembly attention kernels", () => {
  it("compute what the JavaScript loops compute (float32, causal half)", () => {
    const ks = attentionKernels();
    expect(ks).not.toBeNull();
    const rng = new Rng(11);
    for (const [T, H, E] of [[7, 2, 4], [33, 3, 8], [63, 4, 16]] as const) {
      const HE3 = 3 * H * E, HE = H * E;
      const fill = (a: Float32Array) => a.forEach((_, i) => (a[i] = rng.normal()));
      const a = wasmFloats(T * HE3)!, P = wasmFloats(H * T * T)!, z = wasmFloats(T * HE)!, gz = wasmFloats(T * HE)!, g = wasmFloats(T * HE3)!, gS = wasmFloats(T * T)!;
      fill(a);
      fill(gz);
      const ja = Float32Array.from(a), jP = new Float32Array(H * T * T), jz = new Float32Array(T * HE), jg = new Float32Array(T * HE3), jS = new Float32Array(T * T);
      const scale = 1 / Math.sqrt(E);
      for (let h = 0; h < H; h++) {
        attendForwardWasm(ks!, a, HE3, h * E, HE + h * E, 2 * HE + h * E, T, E, scale, P, h * T * T, z, h * E, HE);
        attendForward(ja, HE3, h * E, HE + h * E, 2 * HE + h * E, T, E, scale, jP, h * T * T, jz, h * E, HE);
        attendBackwardWasm(ks!, a, HE3, h * E, HE + h * E, 2 * HE + h * E, T, E, scale, P, h * T * T, gz, h * E, HE, g, gS);
        attendBackward(ja, HE3, h * E, HE + h * E, 2 * HE + h * E, T, E, scale, jP, h * T * T, Float32Array.from(gz), h * E, HE, jg, jS);
      }
      const close = (x: Float32Array, y: Float32Array, what: string) => {
        let worst = 0;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (1 + Math.abs(y[i]!)));
        expect(worst, `${what} T=${T}`).toBeLessThan(1e-5);
      };
      const lower = (p: Float32Array) => p.map((x, k) => ((k % (T * T)) % T <= Math.floor((k % (T * T)) / T) ? x : 0));
      close(lower(P), jP, "P");
      close(z, jz, "z");
      close(g, jg, "gq gk gv");
    }
  });
});
