/**
 * The one matrix product of every kernel module, as WebAssembly code:
 *
 *   out[i, j] = (mode & ACCUMULATE ? out[i, j] : 0) + Σ_k A[i, k] · B[k, j]  (+ bias[j] with BIAS)
 *   A[i, k] = a + i·ars + k·aks            (any byte strides: Aᵀ is just swapped strides)
 *   B[k, j] = b + p·bps + k·bks + (j − p·PE)·es   for j in panel p = ⌊j / PE⌋
 *   out[i, j] = o + i·ors + j·es,  bias[j] = bias + j·es
 *
 * B's panels are PE = 32 / es columns (two vectors). A row-major B is bps =
 * 32, bks = its row stride; a packed B (panel p holding B[0 … K−1, p·PE …]
 * contiguously, see packPanels) is bps = K·32, bks = 32 — the same kernel
 * reads both, so weights are packed once and activations never are.
 *
 * Rows go four at a time against one panel (8 accumulators, two panel
 * vectors, one broadcast), k ascending from the first term, so each output
 * element is one lane's sum in a fixed order: in the plain variant a
 * rounded multiply then a rounded add — the JavaScript kernels' arithmetic,
 * bit for bit — and in the fused variant (relaxed SIMD's madd, where the
 * runtime has it) one rounding per term. A bias is added after the sum (the
 * epilogue), as out + bias would be. A partial last panel is stored through
 * 32 bytes of scratch (tmp), so no column at or beyond N is ever written.
 *
 * Mode bits make the causal attention products cost half of a square one:
 * CAUSAL_N skips output columns right of the diagonal block (row i needs
 * j ≤ i only), K_UPTO sums k < i + 4 only (A zero right of its diagonal),
 * K_FROM sums k ≥ i only (A zero left of its diagonal).
 */
import {
  ADD, addTo, AND, call, EQ, DIV_U, ELSE, END, EQZ, funcBody, get, GT_S, I32, i32, I32_LOAD, IF, LE_S, LT_S, MEMCPY, MUL, OR, SELECT, set, SHR_U, simd, SUB, V128, V_LOAD, V_STORE, V_ZERO, whileLoop,
} from "./assembler.ts";

/** Mode bits of the product. */
export const ACCUMULATE = 1;
export const CAUSAL_N = 2;
export const K_UPTO = 4;
export const K_FROM = 8;
export const BIAS = 16;

/** Panel width in bytes: two 128-bit vectors. */
export const PANEL_BYTES = 32;

/** Rows per block of the product: 2·ROWS accumulators, two panel vectors and a broadcast (six rows, filling 15 of 16 vector registers, measured slower: spills). */
export const ROWS = 4;

/** The product's parameters, in order (all i32; addresses and strides in bytes). */
export const GEMM_PARAMS = ["a", "b", "out", "M", "K", "N", "ars", "aks", "bks", "bps", "ors", "mode", "bias", "tmp"] as const;

/** How each term is added: a rounded multiply then a rounded add, or relaxed SIMD's fused multiply-add. */
import type { MulAdd } from "./choice.ts";

export type { MulAdd };

/** relaxed SIMD: f32x4.relaxed_madd / f64x2.relaxed_madd (a·b + c). */
export const RELAXED_MADD32 = simd(0x105), RELAXED_MADD64 = simd(0x107);

/** gemm32 / gemm64 (params GEMM_PARAMS). */
export function gemmBody(es: 4 | 8, mulAdd: MulAdd): number[] {
  const PE = PANEL_BYTES / es; // elements per panel
  const LOG_PE = es === 4 ? 3 : 2;
  const splat = es === 4 ? simd(0x09, 0, 0) : simd(0x0a, 0, 0);
  const vadd = es === 4 ? simd(0xe4) : simd(0xf0);
  const vmul = es === 4 ? simd(0xe6) : simd(0xf2);
  const madd = es === 4 ? RELAXED_MADD32 : RELAXED_MADD64;
  const [A, B, OUT, M, K, N, ARS, AKS, BKS, BPS, ORS, MODE, BIASP, TMP] = GEMM_PARAMS.map((_, i) => i) as number[] as [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const L0 = GEMM_PARAMS.length;
  // i32 locals
  const [NP, PN, I, KS, KE, KK, WP, OP, BP, OC, REMB, BV, ACCB, FAST] = Array.from({ length: 14 }, (_, i) => L0 + i) as [number, number, number, number, number, number, number, number, number, number, number, number, number, number];
  const XS = Array.from({ length: ROWS }, (_, r) => L0 + 14 + r);
  const N_I32 = 14 + ROWS;
  // v128 locals
  const V0 = L0 + N_I32;
  const ACC = Array.from({ length: 2 * ROWS }, (_, a) => V0 + a);
  const [W0, W1, AV] = [V0 + 2 * ROWS, V0 + 2 * ROWS + 1, V0 + 2 * ROWS + 2];
  const N_V128 = 2 * ROWS + 3;
  const mode = (bit: number) => [...get(MODE), ...i32(bit), ...AND];
  /** acc += av · w */
  const term = (acc: number, w: number) =>
    mulAdd === "fma" ? [...get(AV), ...get(w), ...get(acc), ...madd, ...set(acc)] : [...get(acc), ...get(AV), ...get(w), ...vmul, ...vadd, ...set(acc)];

  /** One block of `rows` rows at row I of panel PN. */
  const block = (rows: number): number[] => {
    const c: number[] = [];
    // KS = K_FROM ? I : 0;  KE = K_UPTO ? min(K, I + rows) : K
    c.push(...get(I), ...i32(0), ...mode(K_FROM), ...SELECT, ...set(KS));
    c.push(...get(K), ...get(I), ...i32(rows), ...ADD, ...get(K), ...get(I), ...i32(rows), ...ADD, ...LT_S, ...SELECT, ...set(KE));
    c.push(...get(KE), ...get(K), ...mode(K_UPTO), ...SELECT, ...set(KE));
    // row pointers and the panel pointer at k = KS
    c.push(...get(A), ...get(I), ...get(ARS), ...MUL, ...ADD, ...get(KS), ...get(AKS), ...MUL, ...ADD, ...set(XS[0]!));
    for (let r = 1; r < rows; r++) c.push(...get(XS[r - 1]!), ...get(ARS), ...ADD, ...set(XS[r]!));
    c.push(...get(BP), ...get(KS), ...get(BKS), ...MUL, ...ADD, ...set(WP));
    c.push(...get(OC), ...get(I), ...get(ORS), ...MUL, ...ADD, ...set(OP));
    // accumulators: from out, or zero
    c.push(...get(ACCB), ...IF);
    for (let r = 0; r < rows; r++) {
      c.push(...get(OP), ...get(ORS), ...i32(r), ...MUL, ...ADD, ...V_LOAD(0), ...set(ACC[2 * r]!));
      c.push(...get(OP), ...get(ORS), ...i32(r), ...MUL, ...ADD, ...V_LOAD(16), ...set(ACC[2 * r + 1]!));
    }
    c.push(...ELSE);
    for (let a = 0; a < 2 * rows; a++) c.push(...V_ZERO, ...set(ACC[a]!));
    c.push(...END);
    // the k loop: with constant strides where A's rows and B's panels are contiguous (aks = es, bks = 32: every
    // packed-weight product), which V8 compiles measurably faster; else with the strides in locals. (Unrolling
    // the constant-stride loop by 4, with immediate load offsets, measured slower: the vector registers spill.)
    c.push(...get(KE), ...get(KS), ...SUB, ...set(KK));
    const kLoop = (aks: number[], bks: number[]) => {
      const body: number[] = [...get(WP), ...V_LOAD(0), ...set(W0), ...get(WP), ...V_LOAD(16), ...set(W1)];
      for (let r = 0; r < rows; r++) {
        body.push(...get(XS[r]!), ...splat, ...set(AV));
        body.push(...term(ACC[2 * r]!, W0), ...term(ACC[2 * r + 1]!, W1));
      }
      for (let r = 0; r < rows; r++) body.push(...addTo(XS[r]!, aks));
      body.push(...addTo(WP, bks), ...get(KK), ...i32(1), ...SUB, ...set(KK));
      return whileLoop([...get(KK), ...i32(0), ...GT_S], body);
    };
    c.push(...get(FAST), ...IF, ...kLoop(i32(es), i32(PANEL_BYTES)), ...ELSE, ...kLoop(get(AKS), get(BKS)), ...END);
    // the epilogue: + bias (the panel's, read whole: lanes at or beyond N are never stored)
    c.push(...get(BV), ...IF);
    c.push(...get(BIASP), ...get(PN), ...i32(PANEL_BYTES), ...MUL, ...ADD, ...V_LOAD(0), ...set(W0));
    c.push(...get(BIASP), ...get(PN), ...i32(PANEL_BYTES), ...MUL, ...ADD, ...V_LOAD(16), ...set(W1));
    for (let r = 0; r < rows; r++) {
      c.push(...get(ACC[2 * r]!), ...get(W0), ...vadd, ...set(ACC[2 * r]!));
      c.push(...get(ACC[2 * r + 1]!), ...get(W1), ...vadd, ...set(ACC[2 * r + 1]!));
    }
    c.push(...END);
    // store: whole panels, or the first REMB bytes through tmp
    c.push(...get(REMB), ...EQZ, ...IF);
    for (let r = 0; r < rows; r++) {
      c.push(...get(OP), ...get(ACC[2 * r]!), ...V_STORE(0), ...get(OP), ...get(ACC[2 * r + 1]!), ...V_STORE(16));
      if (r + 1 < rows) c.push(...addTo(OP, get(ORS)));
    }
    c.push(...ELSE);
    for (let r = 0; r < rows; r++) {
      c.push(...get(TMP), ...get(ACC[2 * r]!), ...V_STORE(0), ...get(TMP), ...get(ACC[2 * r + 1]!), ...V_STORE(16));
      c.push(...get(OP), ...get(TMP), ...get(REMB), ...MEMCPY);
      if (r + 1 < rows) c.push(...addTo(OP, get(ORS)));
    }
    c.push(...END);
    c.push(...addTo(I, i32(rows)));
    return c;
  };

  const code: number[] = [];
  code.push(...get(N), ...i32(PE - 1), ...ADD, ...i32(LOG_PE), ...SHR_U, ...set(NP));
  code.push(...mode(BIAS), ...set(BV), ...mode(ACCUMULATE), ...set(ACCB));
  code.push(...get(AKS), ...i32(es), ...EQ, ...get(BKS), ...i32(PANEL_BYTES), ...EQ, ...AND, ...set(FAST));
  code.push(...i32(0), ...set(PN));
  const panel: number[] = [
    ...get(B), ...get(PN), ...get(BPS), ...MUL, ...ADD, ...set(BP),
    ...get(OUT), ...get(PN), ...i32(PANEL_BYTES), ...MUL, ...ADD, ...set(OC),
    // REMB = (PN + 1)·PE > N ? (N − PN·PE)·es : 0
    ...get(N), ...get(PN), ...i32(PE), ...MUL, ...SUB, ...i32(es), ...MUL, ...i32(0),
    ...get(PN), ...i32(1), ...ADD, ...i32(PE), ...MUL, ...get(N), ...GT_S, ...SELECT, ...set(REMB),
    // I = CAUSAL_N ? PN·PE : 0
    ...get(PN), ...i32(PE), ...MUL, ...i32(0), ...mode(CAUSAL_N), ...SELECT, ...set(I),
    ...whileLoop([...get(I), ...i32(ROWS), ...ADD, ...get(M), ...LE_S], block(ROWS)),
    ...whileLoop([...get(I), ...get(M), ...LT_S], block(1)),
    ...addTo(PN, i32(1)),
  ];
  code.push(...whileLoop([...get(PN), ...get(NP), ...LT_S], panel));
  return funcBody([[N_I32, I32], [N_V128, V128]], code);
}

/**
 * Field offsets (bytes, i32) of a product job's descriptor: the product's
 * operands (GEMM_PARAMS but tmp), then its tiling — chunk c is row block
 * ⌊c / groups⌋ (rper rows) × panel group c mod groups (pper panels) — and
 * the k block: a long reduction goes in blocks of k whose slices of A and B
 * stay in cache across the tile (each block continues the sums the last one
 * stored: the same bits; the bias joins after the last block).
 */
export const GEMM_JOB = {
  a: 0, b: 4, out: 8, M: 12, K: 16, N: 20, ars: 24, aks: 28, bks: 32, bps: 36, ors: 40, mode: 44, bias: 48,
  rper: 52, pper: 56, groups: 60, kblock: 64, bytes: 68,
} as const;

/** gemmJob32/64(desc, c, scratch): tile c of a product (GEMM_JOB), calling the product function `gemmFn`. */
export function gemmJobBody(es: 4 | 8, gemmFn: number): number[] {
  const [D, C, SCR] = [0, 1, 2];
  const [R0, P0, ROWN, COLS, K0, KN, MODEK] = [3, 4, 5, 6, 7, 8, 9]; // i32
  const G = GEMM_JOB;
  const PE = PANEL_BYTES / es;
  const ld = (f: number) => [...get(D), ...I32_LOAD(f)];
  const min = (x: number[], y: number[]) => [...x, ...y, ...x, ...y, ...LT_S, ...SELECT];
  const code = [
    // R0 = ⌊c / groups⌋·rper, P0 = (c mod groups)·pper
    ...get(C), ...ld(G.groups), ...DIV_U, ...ld(G.rper), ...MUL, ...set(R0),
    ...get(C), ...get(C), ...ld(G.groups), ...DIV_U, ...ld(G.groups), ...MUL, ...SUB, ...ld(G.pper), ...MUL, ...set(P0),
    ...min(ld(G.rper), [...ld(G.M), ...get(R0), ...SUB]), ...set(ROWN),
    ...min([...ld(G.pper), ...i32(PE), ...MUL], [...ld(G.N), ...get(P0), ...i32(PE), ...MUL, ...SUB]), ...set(COLS),
    ...i32(0), ...set(K0),
    // (do … while: a product with K = 0 still writes its zeros or its bias)
    0x03, 0x40,
    ...min(ld(G.kblock), [...ld(G.K), ...get(K0), ...SUB]), ...set(KN),
    // this block's mode: accumulate after the first block, the bias with the last
    ...ld(G.mode), ...i32(~(ACCUMULATE | BIAS)), ...AND,
    ...i32(ACCUMULATE), ...ld(G.mode), ...i32(ACCUMULATE), ...AND, ...get(K0), ...SELECT, ...OR,
    ...i32(0), ...ld(G.mode), ...i32(BIAS), ...AND, ...get(K0), ...get(KN), ...ADD, ...ld(G.K), ...LT_S, ...SELECT, ...OR,
    ...set(MODEK),
    ...ld(G.a), ...get(R0), ...ld(G.ars), ...MUL, ...ADD, ...get(K0), ...ld(G.aks), ...MUL, ...ADD,
    ...ld(G.b), ...get(P0), ...ld(G.bps), ...MUL, ...ADD, ...get(K0), ...ld(G.bks), ...MUL, ...ADD,
    ...ld(G.out), ...get(R0), ...ld(G.ors), ...MUL, ...ADD, ...get(P0), ...i32(PANEL_BYTES), ...MUL, ...ADD,
    ...get(ROWN), ...get(KN), ...get(COLS),
    ...ld(G.ars), ...ld(G.aks), ...ld(G.bks), ...ld(G.bps), ...ld(G.ors),
    ...get(MODEK),
    ...ld(G.bias), ...get(P0), ...i32(PANEL_BYTES), ...MUL, ...ADD,
    ...get(SCR), ...call(gemmFn),
    ...get(K0), ...get(KN), ...ADD, ...set(K0),
    ...get(K0), ...ld(G.K), ...LT_S, 0x0d, 0, // br_if 0: next k block
    ...END,
  ];
  return funcBody([[7, I32]], code);
}
