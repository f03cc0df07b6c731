/**
 * Which multiply-add the product kernel uses, decided once per process by
 * asking WebAssembly.validate about a 60-byte module that uses relaxed
 * SIMD's f32x4.relaxed_madd — microseconds, and nothing else is loaded, so
 * `circuits --version` can report it without building the kernels.
 */
import { setFlagsFromString } from "node:v8";

/** How the product adds a term: a rounded multiply then a rounded add, or a fused multiply-add. */
export type MulAdd = "plain" | "fma";

/** The variant chosen and why. */
export interface MulAddChoice {
  readonly mulAdd: MulAdd;
  readonly reason: string;
}

/** (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd) */
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

/** The same with v128.bitselect: plain WebAssembly SIMD. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0c, 0x01, 0x0a, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x52, 0x0b,
]);

let choice: MulAddChoice | undefined;

let native: boolean | undefined;

/** Whether the runtime accepts relaxed SIMD as it stands, without V8's flag (asked before the flag can be set). */
export function relaxedSimdNative(): boolean {
  return (native ??= WebAssembly.validate(PROBE));
}

/**
 * The variant in use: fused where the runtime validates relaxed SIMD.
 * CIRCUITS_KERNEL=plain forces the plain one; CIRCUITS_KERNEL=fma turns on
 * V8's --experimental-wasm-relaxed-simd at run time where the runtime has
 * relaxed SIMD only behind it (Node 20: V8 11.3).
 */
export function mulAddChoice(): MulAddChoice {
  if (choice) return choice;
  const want = process.env.CIRCUITS_KERNEL ?? "";
  if (want === "plain") return (choice = { mulAdd: "plain", reason: "CIRCUITS_KERNEL=plain" });
  if (relaxedSimdNative()) return (choice = { mulAdd: "fma", reason: "the runtime has relaxed SIMD" });
  if (want === "fma") {
    // Set before any module that uses it is compiled; V8 reads its wasm feature flags at validation and compilation.
    setFlagsFromString("--experimental-wasm-relaxed-simd");
    if (WebAssembly.validate(PROBE)) return (choice = { mulAdd: "fma", reason: "CIRCUITS_KERNEL=fma (V8's --experimental-wasm-relaxed-simd set at run time)" });
  }
  return (choice = {
    mulAdd: "plain",
    reason: `Node ${process.versions.node} (V8 ${process.versions.v8}) has relaxed SIMD only behind a flag; CIRCUITS_KERNEL=fma sets it`,
  });
}

/** One line on the product kernel, for `circuits --version`. */
export function kernelDescription(): string {
  if (process.env.CIRCUITS_NO_WASM) return "JavaScript kernels (CIRCUITS_NO_WASM is set)";
  if (typeof WebAssembly !== "object" || !WebAssembly.validate(SIMD_PROBE)) return "JavaScript kernels (no WebAssembly SIMD)";
  const c = mulAddChoice();
  return c.mulAdd === "fma"
    ? `WebAssembly SIMD, fused multiply-add (relaxed_madd): ${c.reason}`
    : `WebAssembly SIMD, plain multiply then add: ${c.reason}`;
}
