/**
 * The training passes' functions in the kernel module (src/kernels/module.ts),
 * assembled byte by byte: for float32, the rest of a head's causal attention
 * around the module's product (src/kernels/gemmCode.ts) — a softmax over the
 * causal part of each score row and the score gradient — with the two
 * per-sequence attention passes that chain them, a whole layer per sequence,
 * and the cross-entropy: "jobs" that the helper thread and this one share
 * chunk by chunk (each chunk writes its own rows or sequence, so who runs
 * which changes no bit).
 *
 * exp in the softmax is the classic float32 range reduction
 * (x = n·ln2 + r, |r| ≤ ½ln2, ln2 split in two) with a degree-6
 * polynomial for e^r and the 2ⁿ scaling built in the exponent bits: about
 * one ulp, inputs clamped to [−87, 88] (the softmax only ever feeds x ≤ 0).
 */
import {
  ADD, addTo, AND, call, ELSE, END, F32, get, GT_S, I32, i32, IF, LT_S, MEMCPY, MUL, SELECT, set, SHR_U, simd, SUB, uleb, V128, V_LOAD, V_STORE, V_ZERO, vec, whileLoop,
} from "../kernels/assembler.ts";
import { FN } from "../kernels/exports.ts";
import { ACCUMULATE, CAUSAL_N, K_FROM, K_UPTO } from "../kernels/gemmCode.ts";

/**
 * Field offsets (bytes) of an attention descriptor (i32 unless said): the
 * addresses of qkv, P, z, gz, gqkv; T, E, H, H·E; byte strides of qkv
 * rows, P rows, z rows, gz rows; the score scale (f32).
 */
export const ATTN = {
  qkv: 0, P: 4, z: 8, gz: 12, gqkv: 16, T: 20, E: 24, H: 28, HE: 32, ld3: 36, tp: 40, ldz: 44, ldgz: 48, scale: 52,
  // the layer around it (layerFwd32, layerBwd32): x_l, x_{l+1} and their row stride; [W_QKV; b] and its rows (Dp+1);
  // [W_O; b_O] and its rows (HEp+1); d_model; its stride Dp (bytes) in g_x, W_O's rows, the transposes' rows;
  // g_x, W_Oᵀ, W_QKVᵀ
  x: 56, xn: 60, ldx: 64, wqkv: 68, kx: 72, wo: 76, kz: 80, D: 84, ldd: 88, gx: 92, woT: 96, wqkvT: 100,
  bytes: 104,
} as const;

/**
 * Field offsets (bytes) of a cross-entropy job's descriptor: logits address
 * and row stride (bytes), V, targets (i32, −1: untrained), stats (f32 max
 * and sum of exponentials per row), the gradient's scale 1/count (f32),
 * rows per chunk, rows.
 */
export const XENT = { logits: 0, ld: 4, V: 8, targets: 12, stats: 16, scale: 20, per: 24, N: 28, bytes: 32 } as const;


// ------------------------------------------------------------ softmax, score gradient
const f32c = (x: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, x, true); return [0x43, ...b]; };
const v4 = (x: number) => { const b = new Uint8Array(16); const dv = new DataView(b.buffer); for (let k = 0; k < 4; k++) dv.setFloat32(4 * k, x, true); return simd(0x0c, ...b); };
const vi4 = (xs: number[]) => { const b = new Uint8Array(16); const dv = new DataView(b.buffer); xs.forEach((x, k) => dv.setInt32(4 * k, x, true)); return simd(0x0c, ...b); };
const FADD = simd(0xe4), FSUB = simd(0xe5), FMUL = simd(0xe6), FMIN = simd(0xe8), FMAX = simd(0xe9), NEAREST = simd(0x6a);
const F_SPLAT = simd(0x13), I_SPLAT = simd(0x11), IADD = simd(0xae), ISHL = simd(0xab), TRUNC = simd(0xf8), IGT = simd(0x3b);
const ANDNOT = simd(0x4f), BITSELECT = simd(0x52);
const lane = (k: number) => simd(0x1f, k);
const LOAD = V_LOAD(0), STORE = V_STORE(0);
const F32_ADD = [0x92], F32_MAX = [0x97], F32_DIV = [0x95];

/** e^x lanewise for the v128 in local x (clobbers x, n, r, p); leaves the result on the stack. */
function expInto(x: number, n: number, r: number, p: number): number[] {
  const poly = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
  const c: number[] = [];
  c.push(...get(x), ...v4(-87), ...FMAX, ...v4(88), ...FMIN, ...set(x));
  c.push(...get(x), ...v4(1.44269504088896341), ...FMUL, ...NEAREST, ...set(n));
  c.push(...get(x), ...get(n), ...v4(0.693359375), ...FMUL, ...FSUB, ...get(n), ...v4(-2.12194440e-4), ...FMUL, ...FSUB, ...set(r));
  c.push(...v4(poly[0]!));
  for (const k of poly.slice(1)) c.push(...get(r), ...FMUL, ...v4(k), ...FADD);
  c.push(...get(r), ...FMUL, ...get(r), ...FMUL, ...get(r), ...FADD, ...v4(1), ...FADD, ...set(p));
  c.push(...get(p), ...get(n), ...TRUNC, ...vi4([127, 127, 127, 127]), ...IADD, ...i32(23), ...ISHL, ...FMUL);
  return c;
}

/** Sum (or max) of the four lanes of local v, left to right. */
const horizontal = (v: number, op: number[]) => [...get(v), ...lane(0), ...get(v), ...lane(1), ...op, ...get(v), ...lane(2), ...op, ...get(v), ...lane(3), ...op];

/**
 * softmax32(P, T, tpBytes, scale): each row i of a [T, Tp] block becomes
 * softmax(scale · row[0 … i]) followed by zeros to the row's end.
 */
function softmaxBody(): number[] {
  const [PP, TT, TPB, SC] = [0, 1, 2, 3];
  const [II, ROW, JJ, JEND] = [4, 5, 6, 7]; // i32
  const [MAXS, SUMS] = [8, 9]; // f32
  const [SV, MV, T0, IV, MASK, AV, NV, RV, PV, LI] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]; // v128
  const maskAt = [...vi4([0, 1, 2, 3]), ...get(JJ), ...i32(2), ...SHR_U, ...I_SPLAT, ...IADD, ...get(IV), ...IGT, ...set(MASK)];
  const row: number[] = [
    ...get(PP), ...get(II), ...get(TPB), ...MUL, ...ADD, ...set(ROW),
    ...get(II), ...i32(4), ...ADD, ...i32(-4), ...AND, ...i32(4), ...MUL, ...set(JEND),
    ...get(II), ...I_SPLAT, ...set(IV),
    // max over the causal part of the scaled row
    ...v4(-Infinity), ...set(MV), ...i32(0), ...set(JJ),
    ...whileLoop([...get(JJ), ...get(JEND), ...LT_S], [
      ...maskAt,
      ...v4(-Infinity), ...get(ROW), ...get(JJ), ...ADD, ...LOAD, ...get(SV), ...FMUL, ...get(MASK), ...BITSELECT, ...set(T0),
      ...get(MV), ...get(T0), ...FMAX, ...set(MV),
      ...addTo(JJ, i32(16)),
    ]),
    ...horizontal(MV, F32_MAX), ...set(MAXS),
    // exponentials, their sum
    ...get(MAXS), ...F_SPLAT, ...set(LI), ...V_ZERO, ...set(AV), ...i32(0), ...set(JJ),
    ...whileLoop([...get(JJ), ...get(JEND), ...LT_S], [
      ...maskAt,
      ...get(ROW), ...get(JJ), ...ADD, ...LOAD, ...get(SV), ...FMUL, ...get(LI), ...FSUB, ...set(T0),
      ...expInto(T0, NV, RV, PV), ...get(MASK), ...ANDNOT, ...set(T0),
      ...get(ROW), ...get(JJ), ...ADD, ...get(T0), ...STORE,
      ...get(AV), ...get(T0), ...FADD, ...set(AV),
      ...addTo(JJ, i32(16)),
    ]),
    ...horizontal(AV, F32_ADD), ...set(SUMS),
    ...f32c(1), ...get(SUMS), ...F32_DIV, ...F_SPLAT, ...set(LI), ...i32(0), ...set(JJ),
    ...whileLoop([...get(JJ), ...get(JEND), ...LT_S], [
      ...get(ROW), ...get(JJ), ...ADD, ...get(ROW), ...get(JJ), ...ADD, ...LOAD, ...get(LI), ...FMUL, ...STORE,
      ...addTo(JJ, i32(16)),
    ]),
    ...whileLoop([...get(JJ), ...get(TPB), ...LT_S], [...get(ROW), ...get(JJ), ...ADD, ...V_ZERO, ...STORE, ...addTo(JJ, i32(16))]),
    ...addTo(II, i32(1)),
  ];
  const code = [...get(SC), ...F_SPLAT, ...set(SV), ...i32(0), ...set(II), ...whileLoop([...get(II), ...get(TT), ...LT_S], row)];
  const b = [...vec([[4, I32], [2, F32], [10, V128]]), ...code, 0x0b];
  return [...uleb(b.length), ...b];
}

/**
 * scoreGrad32(P, G, T, tpBytes, scale): with G the causal part of g_P,
 * G ← P ∘ (G − rowsum(P ∘ G))·scale, zeros right of the diagonal block.
 * (P is zero right of the diagonal, so the diagonal block needs no mask.)
 */
function scoreGradBody(): number[] {
  const [PP, GG, TT, TPB, SC] = [0, 1, 2, 3, 4];
  const [II, RP, RG, JJ, JEND] = [5, 6, 7, 8, 9]; // i32
  const [SV, AV, DV] = [10, 11, 12]; // v128
  const row: number[] = [
    ...get(PP), ...get(II), ...get(TPB), ...MUL, ...ADD, ...set(RP),
    ...get(GG), ...get(II), ...get(TPB), ...MUL, ...ADD, ...set(RG),
    ...get(II), ...i32(4), ...ADD, ...i32(-4), ...AND, ...i32(4), ...MUL, ...set(JEND),
    ...V_ZERO, ...set(AV), ...i32(0), ...set(JJ),
    ...whileLoop([...get(JJ), ...get(JEND), ...LT_S], [
      ...get(AV), ...get(RP), ...get(JJ), ...ADD, ...LOAD, ...get(RG), ...get(JJ), ...ADD, ...LOAD, ...FMUL, ...FADD, ...set(AV),
      ...addTo(JJ, i32(16)),
    ]),
    ...horizontal(AV, F32_ADD), ...F_SPLAT, ...set(DV), ...i32(0), ...set(JJ),
    ...whileLoop([...get(JJ), ...get(JEND), ...LT_S], [
      ...get(RG), ...get(JJ), ...ADD,
      ...get(RP), ...get(JJ), ...ADD, ...LOAD, ...get(RG), ...get(JJ), ...ADD, ...LOAD, ...get(DV), ...FSUB, ...FMUL, ...get(SV), ...FMUL,
      ...STORE,
      ...addTo(JJ, i32(16)),
    ]),
    ...whileLoop([...get(JJ), ...get(TPB), ...LT_S], [...get(RG), ...get(JJ), ...ADD, ...V_ZERO, ...STORE, ...addTo(JJ, i32(16))]),
    ...addTo(II, i32(1)),
  ];
  const code = [...get(SC), ...F_SPLAT, ...set(SV), ...i32(0), ...set(II), ...whileLoop([...get(II), ...get(TT), ...LT_S], row)];
  const b = [...vec([[5, I32], [3, V128]]), ...code, 0x0b];
  return [...uleb(b.length), ...b];
}

// ------------------------------------------------------------ per-sequence attention, layers, jobs
const load = (base: number, off: number) => [...get(base), 0x28, 2, ...uleb(off)];
const loadF = (base: number, off: number) => [...get(base), 0x2a, 2, ...uleb(off)];

/**
 * attnFwd32(desc, b, scratch) / attnBwd32: every head of sequence b.
 * Forward: P = softmax(scale · q kᵀ) (causal), z = P v. Backward:
 * g_P = g_z vᵀ, g_S (scoreGrad32, in scratch + 64),
 * g_q = g_S k, g_k = g_Sᵀ q, g_v = Pᵀ g_z. `scratch`: this thread's own
 * (partial panels at scratch, then g_S [T, Tp], then the sequence's keys
 * or values transposed [H·E, Tp], whose columns T … Tp−1 must be zero).
 */
function attnBody(backward: boolean): number[] {
  const [D, BB, SCR] = [0, 1, 2];
  const [H, Q, KT, PB, ZB, GZB, GB, TT, EE, TP, GS, KTS, NN, CC, SRC, DST] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]; // i32
  const A = ATTN;
  const gemm = (a: number[], b: number[], out: number[], M: number[], K: number[], N: number[], ars: number[], aks: number[], bks: number[], ors: number[], mode: number) =>
    [...a, ...b, ...out, ...M, ...K, ...N, ...ars, ...aks, ...bks, ...i32(32), ...ors, ...i32(mode), ...i32(0), ...get(SCR), ...call(FN.gemm32)];
  const row0 = (base: number, stride: number) => [...load(D, base), ...get(BB), ...get(TT), ...MUL, ...load(D, stride), ...MUL, ...ADD];
  const head: number[] = [
    // q of head h in sequence b; P block; kT columns of the sequence
    ...row0(A.qkv, A.ld3), ...get(H), ...get(EE), ...MUL, ...i32(4), ...MUL, ...ADD, ...set(Q),
    ...get(KTS), ...get(H), ...get(EE), ...MUL, ...load(D, A.tp), ...MUL, ...ADD, ...set(KT),
    ...load(D, A.P), ...get(BB), ...load(D, A.H), ...MUL, ...get(H), ...ADD, ...get(TT), ...MUL, ...load(D, A.tp), ...MUL, ...ADD, ...set(PB),
    ...row0(A.z, A.ldz), ...get(H), ...get(EE), ...MUL, ...i32(4), ...MUL, ...ADD, ...set(ZB),
    ...row0(A.gz, A.ldgz), ...get(H), ...get(EE), ...MUL, ...i32(4), ...MUL, ...ADD, ...set(GZB),
    ...row0(A.gqkv, A.ld3), ...get(H), ...get(EE), ...MUL, ...i32(4), ...MUL, ...ADD, ...set(GB),
  ];
  const HE4 = [...load(D, A.HE), ...i32(4), ...MUL];
  if (!backward) {
    head.push(
      ...gemm(get(Q), get(KT), get(PB), get(TT), get(EE), get(TP), load(D, A.ld3), i32(4), load(D, A.tp), load(D, A.tp), CAUSAL_N),
      ...get(PB), ...get(TT), ...load(D, A.tp), ...loadF(D, A.scale), ...call(FN.softmax32),
      ...gemm(get(PB), [...get(Q), ...HE4, ...i32(2), ...MUL, ...ADD], get(ZB), get(TT), get(TT), get(EE), load(D, A.tp), i32(4), load(D, A.ld3), load(D, A.ldz), K_UPTO),
    );
  } else {
    head.push(
      ...gemm(get(GZB), get(KT), get(GS), get(TT), get(EE), get(TP), load(D, A.ldgz), i32(4), load(D, A.tp), load(D, A.tp), CAUSAL_N),
      ...get(PB), ...get(GS), ...get(TT), ...load(D, A.tp), ...loadF(D, A.scale), ...call(FN.scoreGrad32),
      ...gemm(get(GS), [...get(Q), ...HE4, ...ADD], get(GB), get(TT), get(TT), get(EE), load(D, A.tp), i32(4), load(D, A.ld3), load(D, A.ld3), K_UPTO),
      ...gemm(get(GS), get(Q), [...get(GB), ...HE4, ...ADD], get(TT), get(TT), get(EE), i32(4), load(D, A.tp), load(D, A.ld3), load(D, A.ld3), K_FROM),
      ...gemm(get(PB), get(GZB), [...get(GB), ...HE4, ...i32(2), ...MUL, ...ADD], get(TT), get(TT), get(EE), i32(4), load(D, A.tp), load(D, A.ldgz), load(D, A.ld3), K_FROM),
    );
  }
  head.push(...addTo(H, i32(1)));
  const code = [
    ...load(D, A.T), ...set(TT), ...load(D, A.E), ...set(EE), ...load(D, A.tp), ...i32(2), ...SHR_U, ...set(TP),
    ...get(SCR), ...i32(64), ...ADD, ...set(GS),
    // this sequence's keys (values, backward) transposed into scratch after g_S: [H·E, Tp]
    ...get(GS), ...get(TT), ...load(D, A.tp), ...MUL, ...ADD, ...set(KTS),
    ...i32(0), ...set(NN),
    ...whileLoop([...get(NN), ...get(TT), ...LT_S], [
      ...row0(A.qkv, A.ld3), ...get(NN), ...load(D, A.ld3), ...MUL, ...ADD, ...load(D, A.HE), ...i32(backward ? 8 : 4), ...MUL, ...ADD, ...set(SRC),
      ...get(KTS), ...get(NN), ...i32(4), ...MUL, ...ADD, ...set(DST),
      ...i32(0), ...set(CC),
      ...whileLoop([...get(CC), ...load(D, A.HE), ...LT_S], [
        ...get(DST), ...get(SRC), 0x2a, 2, 0, 0x38, 2, 0,
        ...addTo(SRC, i32(4)), ...addTo(DST, load(D, A.tp)), ...addTo(CC, i32(1)),
      ]),
      ...addTo(NN, i32(1)),
    ]),
    ...i32(0), ...set(H),
    ...whileLoop([...get(H), ...load(D, A.H), ...LT_S], head),
  ];
  const b = [...vec([[16, I32]]), ...code, 0x0b];
  return [...uleb(b.length), ...b];
}

/**
 * layerFwd32(desc, b, scratch) / layerBwd32: one sequence's rows through a
 * whole layer, so they stay in cache and the threads meet once per layer.
 * Forward: qkv = [x_l 1]·[W_QKV; b] on its rows, attention (attnFwd32),
 * x_{l+1} = x_l + [z 1]·[W_O; b_O]. Backward: g_z = g_x·W_Oᵀ, attention
 * (attnBwd32), g_x += g_qkv·W_QKVᵀ — rows of one sequence each, the same
 * bits as the whole-batch products.
 */
function layerBody(backward: boolean): number[] {
  const [D, BB, SCR] = [0, 1, 2];
  const [R0, TT] = [3, 4]; // i32
  const A = ATTN;
  const gemm = (a: number[], b: number[], out: number[], M: number[], K: number[], N: number[], ars: number[], aks: number[], bks: number[], ors: number[], mode: number) =>
    [...a, ...b, ...out, ...M, ...K, ...N, ...ars, ...aks, ...bks, ...i32(32), ...ors, ...i32(mode), ...i32(0), ...get(SCR), ...call(FN.gemm32)];
  const rows = (base: number, stride: number) => [...load(D, base), ...get(R0), ...load(D, stride), ...MUL, ...ADD];
  const HE3 = [...load(D, A.HE), ...i32(3), ...MUL];
  const code: number[] = [...load(D, A.T), ...set(TT), ...get(BB), ...get(TT), ...MUL, ...set(R0)];
  if (!backward) {
    code.push(
      ...gemm(rows(A.x, A.ldx), load(D, A.wqkv), rows(A.qkv, A.ld3), get(TT), load(D, A.kx), HE3, load(D, A.ldx), i32(4), load(D, A.ld3), load(D, A.ld3), 0),
      ...get(D), ...get(BB), ...get(SCR), ...call(FN.attnFwd32),
      ...rows(A.xn, A.ldx), ...rows(A.x, A.ldx), ...get(TT), ...load(D, A.ldx), ...MUL, ...MEMCPY,
      ...gemm(rows(A.z, A.ldz), load(D, A.wo), rows(A.xn, A.ldx), get(TT), load(D, A.kz), load(D, A.D), load(D, A.ldz), i32(4), load(D, A.ldd), load(D, A.ldx), ACCUMULATE),
    );
  } else {
    code.push(
      ...gemm(rows(A.gx, A.ldd), load(D, A.woT), rows(A.gz, A.ldgz), get(TT), load(D, A.D), load(D, A.HE), load(D, A.ldd), i32(4), load(D, A.ldgz), load(D, A.ldgz), 0),
      ...get(D), ...get(BB), ...get(SCR), ...call(FN.attnBwd32),
      ...gemm(rows(A.gqkv, A.ld3), load(D, A.wqkvT), rows(A.gx, A.ldd), get(TT), HE3, load(D, A.D), load(D, A.ld3), i32(4), load(D, A.ldd), load(D, A.ldd), ACCUMULATE),
    );
  }
  const b = [...vec([[2, I32]]), ...code, 0x0b];
  return [...uleb(b.length), ...b];
}

/**
 * xentJob32(desc, c, scratch): rows c·per … of the logits. A trained row
 * becomes (softmax of the row)·scale, with its max and sum of exponentials
 * in stats; an untrained one becomes zeros. (The caller takes the loss
 * from the stats and subtracts scale at the target.)
 */
function xentBody(): number[] {
  const [D, C] = [0, 1];
  const [NN, NEND, ROW, JJ, JEND, TG] = [3, 4, 5, 6, 7, 8]; // i32
  const [MAXS, SUMS] = [9, 10]; // f32
  const [IV, MASK, MV, T0, AV, NV, RV, PV, LI] = [11, 12, 13, 14, 15, 16, 17, 18, 19]; // v128
  const X = XENT;
  const maskAt = [...vi4([0, 1, 2, 3]), ...get(JJ), ...i32(2), ...SHR_U, ...I_SPLAT, ...IADD, ...get(IV), ...IGT, ...set(MASK)];
  const chunks = (body: number[]) => [...i32(0), ...set(JJ), ...whileLoop([...get(JJ), ...get(JEND), ...LT_S], [...body, ...addTo(JJ, i32(16))])];
  const at = [...get(ROW), ...get(JJ), ...ADD];
  const row: number[] = [
    ...load(D, X.logits), ...get(NN), ...load(D, X.ld), ...MUL, ...ADD, ...set(ROW),
    ...load(D, X.targets), ...get(NN), ...i32(4), ...MUL, ...ADD, 0x28, 2, 0, ...set(TG),
    ...get(TG), ...i32(0), ...LT_S, ...IF,
    ...chunks([...at, ...V_ZERO, ...STORE]),
    ...ELSE,
    ...v4(-Infinity), ...set(MV),
    ...chunks([...maskAt, ...v4(-Infinity), ...at, ...LOAD, ...get(MASK), ...BITSELECT, ...set(T0), ...get(MV), ...get(T0), ...FMAX, ...set(MV)]),
    ...horizontal(MV, F32_MAX), ...set(MAXS),
    ...get(MAXS), ...F_SPLAT, ...set(LI), ...V_ZERO, ...set(AV),
    ...chunks([
      ...maskAt, ...at, ...LOAD, ...get(LI), ...FSUB, ...set(T0),
      ...expInto(T0, NV, RV, PV), ...get(MASK), ...ANDNOT, ...set(T0),
      ...at, ...get(T0), ...STORE, ...get(AV), ...get(T0), ...FADD, ...set(AV),
    ]),
    ...horizontal(AV, F32_ADD), ...set(SUMS),
    ...load(D, X.stats), ...get(NN), ...i32(8), ...MUL, ...ADD, ...get(MAXS), 0x38, 2, 0,
    ...load(D, X.stats), ...get(NN), ...i32(8), ...MUL, ...ADD, ...get(SUMS), 0x38, 2, 4,
    ...loadF(D, X.scale), ...get(SUMS), ...F32_DIV, ...F_SPLAT, ...set(LI),
    ...chunks([...at, ...at, ...LOAD, ...get(LI), ...FMUL, ...STORE]),
    ...END,
    ...addTo(NN, i32(1)),
  ];
  const code = [
    ...load(D, X.V), ...i32(1), ...SUB, ...I_SPLAT, ...set(IV),
    ...load(D, X.V), ...i32(3), ...ADD, ...i32(-4), ...AND, ...i32(4), ...MUL, ...set(JEND),
    ...get(C), ...load(D, X.per), ...MUL, ...set(NN),
    ...get(NN), ...load(D, X.per), ...ADD, ...load(D, X.N), ...get(NN), ...load(D, X.per), ...ADD, ...load(D, X.N), ...LT_S, ...SELECT, ...set(NEND),
    ...whileLoop([...get(NN), ...get(NEND), ...LT_S], row),
  ];
  const b = [...vec([[6, I32], [2, F32], [9, V128]]), ...code, 0x0b];
  return [...uleb(b.length), ...b];
}

/** The bodies of the training functions, by export name (the module, src/kernels/module.ts, puts them in EXPORTS order). */
export function trainBodies(): Record<"softmax32" | "scoreGrad32" | "attnFwd32" | "attnBwd32" | "xentJob32" | "layerFwd32" | "layerBwd32", number[]> {
  return {
    softmax32: softmaxBody(), scoreGrad32: scoreGradBody(), attnFwd32: attnBody(false), attnBwd32: attnBody(true),
    xentJob32: xentBody(), layerFwd32: layerBody(false), layerBwd32: layerBody(true),
  };
}
