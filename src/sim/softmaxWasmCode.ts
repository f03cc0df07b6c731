/**
 * The KV cache's softmax in WebAssembly SIMD: the scaling of raw dot
 * products by 1/√E with their maximum and minimum, and — when every key
 * stays in expNeg's polynomial range — the exponents, their sum and the
 * normalised pattern. Byte code for attentionWasm.ts's module, float32 and
 * float64.
 *
 * The bits are softmax.ts's and attentionScores.ts's: the division is done
 * in float64 and rounded to the storage type, as scaleScores does; each
 * exponent is expNeg's steps (a rounded multiply, then a rounded add, in
 * float64, no fused operation) on the same constants and the same table;
 * 2^m is built from its exponent bits, which is the value of expNeg's
 * exact table entry; the sum adds the unrounded exponents one by one in key
 * order, from +0, as softmaxLive does; and each weight is the stored
 * exponent divided by the sum, rounded to the storage type. Rows that leave
 * that range (a NaN, an infinity, an exponent below the cut or below −708)
 * are not taken: the caller then runs softmaxLive.
 */
import {
  ADD, AND, BLOCK, br, brIf, bump, call, countDown, END, EQ, EQZ, F64, f32c, f64c, funcBody, get, i32 as i32c, I32, I32_LOAD, IF, LOOP, OR, SELECT, set,
  SHL, SHR_U, simd, SUB, uleb, V128, V_LOAD, V_STORE, vec, whileNonzero,
} from "../kernels/assembler.ts";
import { EXP_NEG } from "./softmax.ts";

const F64ADD = [0xa0];
const f64load = [0x2b, 3, 0];
const i32store = [0x36, 2, 0];
// The score buffers are 16-byte aligned: loads and stores say so.
const vload = (off: number): number[] => V_LOAD(off, 4);
const vstore = (off: number): number[] => V_STORE(off, 4);
const shuffle = (lanes: number[]): number[] => simd(0x0d, ...lanes);
/** Bytes 8–15 of a vector twice: the high two float32 lanes moved low. */
const HIGH_HALF = shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
/** The low two float32 lanes of the first vector, then those of the second. */
const JOIN_LOWS = shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);
const F64X2_SPLAT = simd(0x14), F32X4_SPLAT = simd(0x13), I32X4_SPLAT = simd(0x11);
const F64X2 = { add: simd(0xf0), sub: simd(0xf1), mul: simd(0xf2), div: simd(0xf3), min: simd(0xf4), gt: simd(0x4a) };
const F32X4 = { min: simd(0xe8), gt: simd(0x44) };
const PROMOTE = simd(0x5f), DEMOTE = simd(0x5e), BITSELECT = simd(0x52);
const TRUNC_I32 = simd(0xfc); // i32x4.trunc_sat_f64x2_s_zero
const I32X4_EXTRACT = (lane: number): number[] => simd(0x1b, lane);
const F64X2_REPLACE = (lane: number): number[] => simd(0x22, lane);
const F64X2_EXTRACT = (lane: number): number[] => simd(0x21, lane);
const I32X4_SHR_S = simd(0xac), I32X4_ADD = simd(0xae), I64X2_EXTEND_LOW = simd(0xc7), I64X2_SHL = simd(0xcb);
/** Type of scale: (buf, vectors, sqrtE, out) → (). */
export const SCALE_TYPE = [0x60, ...vec([[I32], [I32], [F64], [I32]]), 0];
/** Type of expNorm: (buf, vectors, n, max, scratch, frac, live) → sum. */
export const EXP_TYPE = [0x60, ...vec([[I32], [I32], [I32], [F64], [I32], [I32], [I32]]), ...vec([[F64]])];

/**
 * scale(buf, vectors, sqrtE, out): buf[j] = buf[j] / sqrtE (in float64,
 * rounded to the storage type) over `vectors` whole vectors; out gets the
 * lane maxima (a lane keeps its value unless a later one is greater, so NaNs
 * are passed over, as scaleScores passes them) and, 16 bytes on, the lane
 * minima (NaN in a lane that met one).
 */
export function scaleBody(es: 4 | 8): number[] {
  const [BUF, NV, SQ, OUT] = [0, 1, 2, 3];
  const [S, M, MN, X, V] = [4, 5, 6, 7, 8];
  const c: number[] = [];
  c.push(...get(SQ), ...F64X2_SPLAT, ...set(S));
  if (es === 8) {
    c.push(...f64c(-Infinity), ...F64X2_SPLAT, ...set(M), ...f64c(Infinity), ...F64X2_SPLAT, ...set(MN));
  } else {
    c.push(...f32c(-Infinity), ...F32X4_SPLAT, ...set(M), ...f32c(Infinity), ...F32X4_SPLAT, ...set(MN));
  }
  const body: number[] = [];
  if (es === 8) {
    body.push(...get(BUF), ...vload(0), ...get(S), ...F64X2.div, ...set(X));
  } else {
    body.push(...get(BUF), ...vload(0), ...set(V));
    body.push(...get(V), ...PROMOTE, ...get(S), ...F64X2.div, ...DEMOTE);
    body.push(...get(V), ...get(V), ...HIGH_HALF, ...PROMOTE, ...get(S), ...F64X2.div, ...DEMOTE);
    body.push(...JOIN_LOWS, ...set(X));
  }
  const ops = es === 8 ? F64X2 : F32X4;
  body.push(...get(BUF), ...get(X), ...vstore(0));
  body.push(...get(X), ...get(M), ...get(X), ...get(M), ...ops.gt, ...BITSELECT, ...set(M));
  body.push(...get(MN), ...get(X), ...ops.min, ...set(MN));
  body.push(...bump(BUF, 16), ...countDown(NV));
  c.push(...whileNonzero(NV, body));
  c.push(...get(OUT), ...get(M), ...vstore(0), ...get(OUT), ...get(MN), ...vstore(16));
  return funcBody([[5, V128]], c);
}

/**
 * expNorm(buf, vectors, n, max, scratch, frac, live) → sum: the exponents
 * e_j = expNeg(buf[j] − max) of `vectors` whole vectors into scratch (as
 * float64), their sum over j < n in order, then buf[j] = round(round(e_j) /
 * sum) for the whole vectors and live[j] = j for j < n. frac: expNeg's
 * table of 2^(i/256) (256 float64). Every buf[j] − max must lie in
 * [−708, 0] (the polynomial's range); the caller checks.
 */
export function expNormBody(es: 4 | 8): number[] {
  const [BUF, NV, N, MAX, SCR, FRAC, LIVE] = [0, 1, 2, 3, 4, 5, 6];
  const [MX, CS, CR, CHI, CLO, CHALF, CC3, CC4, C1023, X, K, R, R2, KI, F, V] = Array.from({ length: 16 }, (_, i) => 7 + i);
  const SUM = 23;
  const [P, J, SP, CNT] = [24, 25, 26, 27];
  const [EV, TP] = [28, 29];
  const splat = (x: number, l: number): number[] => [...f64c(x), ...F64X2_SPLAT, ...set(l)];
  const c: number[] = [];
  c.push(...get(MAX), ...F64X2_SPLAT, ...set(MX));
  c.push(...splat(EXP_NEG.STEPS_PER_LN2, CS), ...splat(EXP_NEG.ROUND, CR), ...splat(EXP_NEG.LN2_HI, CHI), ...splat(EXP_NEG.LN2_LO, CLO));
  c.push(...splat(0.5, CHALF), ...splat(EXP_NEG.C3, CC3), ...splat(EXP_NEG.C4, CC4));
  c.push(...i32c(1023), ...I32X4_SPLAT, ...set(C1023));
  const mul = F64X2.mul, add = F64X2.add, sub = F64X2.sub;
  /** Table entry of lane `lane` of KI: frac[(ki & 255)]. */
  const fracOf = (lane: number): number[] => [...get(FRAC), ...get(KI), ...I32X4_EXTRACT(lane), ...i32c(255), ...AND, ...i32c(3), ...SHL, ...ADD, ...f64load];
  /** scratch[SP + off] = expNeg of the two lanes of X; with `sum`, both added to SUM, lane 0 first. */
  const expOfX = (off: number, sum: boolean): number[] => [
    // k = x·S + ROUND − ROUND; r = x − k·HI − k·LO
    ...get(X), ...get(CS), ...mul, ...get(CR), ...add, ...get(CR), ...sub, ...set(K),
    ...get(X), ...get(K), ...get(CHI), ...mul, ...sub, ...get(K), ...get(CLO), ...mul, ...sub, ...set(R),
    ...get(K), ...TRUNC_I32, ...set(KI),
    ...fracOf(0), ...F64X2_SPLAT, ...fracOf(1), ...F64X2_REPLACE(1), ...set(F),
    ...get(R), ...get(R), ...mul, ...set(R2),
    // q = r + r²·(0.5 + r·C3 + r²·C4), kept in X
    ...get(R), ...get(R2), ...get(CHALF), ...get(R), ...get(CC3), ...mul, ...add, ...get(R2), ...get(CC4), ...mul, ...add, ...mul, ...add, ...set(X),
    // (f + f·q) · 2^(ki >> 8)
    ...get(F), ...get(F), ...get(X), ...mul, ...add,
    ...get(KI), ...i32c(8), ...I32X4_SHR_S, ...get(C1023), ...I32X4_ADD, ...I64X2_EXTEND_LOW, ...i32c(52), ...I64X2_SHL,
    ...mul, ...set(EV), ...get(SP), ...get(EV), ...vstore(off),
    ...(sum ? [0, 1].flatMap((lane) => [...get(SUM), ...get(EV), ...F64X2_EXTRACT(lane), ...F64ADD, ...set(SUM)]) : []),
  ];
  // The exponents, and their sum key by key: added as they are made over the
  // whole vectors of keys below n (the adds overlap the next exponents), then
  // the last vector's keys below n from the scratch.
  const pass1 = (sum: boolean): number[] => {
    const b: number[] = [];
    if (es === 8) {
      b.push(...get(P), ...vload(0), ...get(MX), ...sub, ...set(X), ...expOfX(0, sum), ...bump(SP, 16));
    } else {
      b.push(...get(P), ...vload(0), ...set(V));
      b.push(...get(V), ...PROMOTE, ...get(MX), ...sub, ...set(X), ...expOfX(0, sum));
      b.push(...get(V), ...get(V), ...HIGH_HALF, ...PROMOTE, ...get(MX), ...sub, ...set(X), ...expOfX(16, sum), ...bump(SP, 32));
    }
    return [...b, ...bump(P, 16), ...countDown(CNT)];
  };
  const logLanes = es === 8 ? 1 : 2;
  c.push(...f64c(0), ...set(SUM), ...get(BUF), ...set(P), ...get(SCR), ...set(SP));
  c.push(...get(N), ...i32c(logLanes), ...SHR_U, ...set(CNT), ...whileNonzero(CNT, pass1(true)));
  c.push(...get(SP), ...set(TP), ...get(NV), ...get(N), ...i32c(logLanes), ...SHR_U, ...SUB, ...set(CNT), ...whileNonzero(CNT, pass1(false)));
  c.push(...get(N), ...i32c((1 << logLanes) - 1), ...AND, ...set(CNT));
  c.push(...whileNonzero(CNT, [...get(SUM), ...get(TP), ...f64load, ...F64ADD, ...set(SUM), ...bump(TP, 8), ...countDown(CNT)]));
  // The weights.
  c.push(...get(SUM), ...F64X2_SPLAT, ...set(MX));
  const pass3: number[] = [...get(P)];
  if (es === 8) {
    pass3.push(...get(SP), ...vload(0), ...get(MX), ...F64X2.div, ...bump(SP, 16));
  } else {
    pass3.push(...get(SP), ...vload(0), ...DEMOTE, ...PROMOTE, ...get(MX), ...F64X2.div, ...DEMOTE);
    pass3.push(...get(SP), ...vload(16), ...DEMOTE, ...PROMOTE, ...get(MX), ...F64X2.div, ...DEMOTE, ...JOIN_LOWS, ...bump(SP, 32));
  }
  pass3.push(...vstore(0), ...bump(P, 16), ...countDown(CNT));
  c.push(...get(BUF), ...set(P), ...get(SCR), ...set(SP), ...get(NV), ...set(CNT), ...whileNonzero(CNT, pass3));
  // Every key listed.
  c.push(...i32c(0), ...set(J), ...get(LIVE), ...set(P));
  c.push(...BLOCK, ...LOOP, ...get(J), ...get(N), ...EQ, ...brIf(1), ...get(P), ...get(J), ...i32store, ...bump(P, 4), ...bump(J, 1), ...br(0), ...END, ...END);
  c.push(...get(SUM));
  return funcBody([[16, V128], [1, F64], [4, I32], [1, V128], [1, I32]], c);
}

/** Type of softmaxRow: (descriptor) → (). */
export const ROW_TYPE = [0x60, ...vec([[I32]]), 0];

/** Byte offsets of a softmaxRow descriptor's fields (ROW_BYTES long, 16-byte aligned). */
export const ROW = {
  /** i32 in: the score row's address, its keys, the live list's address, the exponent scratch, the lane statistics, expNeg's table. */
  BUF: 0, N: 4, LIVE: 8, EXPS: 12, STATS: 16, FRAC: 20,
  /** i32 out: the count of listed keys, or −1 where the row left expNeg's range (scaled, not normalised). */
  RESULT: 24,
  /** f64 in: √E, and the floor of key exponents (max(softmaxCut, expNeg's least)). */
  SQRT_E: 32, FLOOR: 40,
  /** f64 out: the scaled row's maximum. */
  MAX: 48,
} as const;
export const ROW_BYTES = 64;

/**
 * softmaxRow(d): the scaling and the softmax of one score row as
 * attentionWasm.ts's JavaScript steps call them, in one call that a helper
 * thread can run: the last vector's lanes past n repeat key n−1; scale;
 * the maximum and the least of the lane statistics, with JavaScript's
 * comparisons (a NaN lane never raises the maximum and always becomes the
 * least); then, when least − max (in float64) reaches the floor, expNorm.
 * `scale` and `expNorm` are those functions' indices in the module.
 */
export function softmaxRowBody(es: 4 | 8, scale: number, expNorm: number): number[] {
  const D = 0;
  const [BUF, N, NV, J, MAX, LOW, X] = [1, 2, 3, 4, 5, 6, 7];
  const logLanes = es === 4 ? 2 : 1, lanes = 1 << logLanes;
  const f64loadAt = (off: number): number[] => [0x2b, 3, ...uleb(off)];
  const f64storeAt = (off: number): number[] => [0x39, 3, ...uleb(off)];
  const i32storeAt = (off: number): number[] => [0x36, 2, ...uleb(off)];
  const elemLoad = (off: number): number[] => (es === 8 ? f64loadAt(off) : [0x2a, 2, ...uleb(off), 0xbb]); // f32.load, f64.promote_f32
  const elemLoadRaw = es === 8 ? [0x2b, 3, 0] : [0x2a, 2, 0];
  const elemStoreRaw = es === 8 ? [0x39, 3, 0] : [0x38, 2, 0];
  const [F64_NE, F64_LT, F64_GT, F64_GE, F64_SUB, RETURN, DROP] = [[0x62], [0x63], [0x64], [0x66], [0xa1], [0x0f], [0x1a]];
  const c: number[] = [];
  c.push(...get(D), ...I32_LOAD(ROW.BUF), ...set(BUF), ...get(D), ...I32_LOAD(ROW.N), ...set(N));
  c.push(...get(N), ...i32c(lanes - 1), ...ADD, ...i32c(logLanes), ...SHR_U, ...set(NV));
  // Stale lanes: buf[j] = buf[n − 1] for n ≤ j < NV·lanes.
  c.push(...get(N), ...set(J));
  c.push(...BLOCK, ...LOOP, ...get(J), ...get(NV), ...i32c(logLanes), ...SHL, ...EQ, ...brIf(1));
  c.push(...get(BUF), ...get(J), ...i32c(es === 8 ? 3 : 2), ...SHL, ...ADD);
  c.push(...get(BUF), ...get(N), ...i32c(1), ...SUB, ...i32c(es === 8 ? 3 : 2), ...SHL, ...ADD, ...elemLoadRaw, ...elemStoreRaw);
  c.push(...bump(J, 1), ...br(0), ...END, ...END);
  c.push(...get(BUF), ...get(NV), ...get(D), ...f64loadAt(ROW.SQRT_E), ...get(D), ...I32_LOAD(ROW.STATS), ...call(scale));
  c.push(...f64c(-Infinity), ...set(MAX), ...f64c(Infinity), ...set(LOW));
  for (let i = 0; i < lanes; i++) {
    // max = x > max ? x : max
    c.push(...get(D), ...I32_LOAD(ROW.STATS), ...elemLoad(i * es), ...set(X));
    c.push(...get(X), ...get(MAX), ...get(X), ...get(MAX), ...F64_GT, ...SELECT, ...set(MAX));
    // low = (x !== x || x < low) ? x : low
    c.push(...get(D), ...I32_LOAD(ROW.STATS), ...elemLoad(16 + i * es), ...set(X));
    c.push(...get(X), ...get(LOW), ...get(X), ...get(X), ...F64_NE, ...get(X), ...get(LOW), ...F64_LT, ...OR, ...SELECT, ...set(LOW));
  }
  c.push(...get(D), ...get(MAX), ...f64storeAt(ROW.MAX));
  c.push(...get(LOW), ...get(MAX), ...F64_SUB, ...get(D), ...f64loadAt(ROW.FLOOR), ...F64_GE, ...EQZ);
  c.push(...IF, ...get(D), ...i32c(-1), ...i32storeAt(ROW.RESULT), ...RETURN, ...END);
  c.push(...get(BUF), ...get(NV), ...get(N), ...get(MAX), ...get(D), ...I32_LOAD(ROW.EXPS), ...get(D), ...I32_LOAD(ROW.FRAC), ...get(D), ...I32_LOAD(ROW.LIVE));
  c.push(...call(expNorm), ...DROP);
  c.push(...get(D), ...get(N), ...i32storeAt(ROW.RESULT));
  return funcBody([[4, I32], [3, F64]], c);
}
