/**
 * attnPair32/64(desc, c, scratch): causal attention of one (sequence, head)
 * pair of the simulator's dense forward, as WebAssembly code: the score
 * product, then every score row scaled and softmaxed in place, then the
 * value product — so the helper thread can take whole pairs.
 *
 * The row steps are those of scaleScores and softmaxLive (src/sim/) in the
 * same order and precision: x = s / √E (rounded to float32 in float32), the
 * maximum by `x > max`, e = expNeg(x − max) in float64 (the same range
 * reduction, table entries and polynomial, operation for operation), e
 * stored (rounded in float32), sum += e unrounded, then s / sum; exponents
 * below the cut are 0 and not added. Normalising every key (not only the
 * listed ones) divides only exact zeros more, which stay +0. So the bits are
 * those of the JavaScript path. Where that path would leave the fast
 * exponential (a NaN, or x − max in [cut, −708): Math.exp), the pair stops
 * at that row, already scaled, and records it: the caller finishes the row,
 * the later rows and the value product in JavaScript.
 */
import { ADD, AND, call, END, F32_LOAD, F64, f64c, funcBody, get, I32, i32, IF, I32_LOAD, LT_S, MUL, SELECT, set, uleb, whileLoop } from "./assembler.ts";
import { GEMM_JOB, ROWS } from "./gemmCode.ts";
import { EXP_NEG } from "../sim/softmax.ts";

const { C3, C4, LN2_HI, LN2_LO, MIN, ROUND, STEPS_PER_LN2 } = EXP_NEG;

/**
 * Field offsets (bytes) of a pair's record: the score and value products
 * (GEMM_JOB's operand fields each), T, the stop flag (0: done, i + 1:
 * stopped at row i), the exponential's tables (FRAC then POW2, float64), √E
 * and the cut (float64).
 */
export const ATTN_PAIR = { scores: 0, values: GEMM_JOB.bytes, T: 2 * GEMM_JOB.bytes, flag: 2 * GEMM_JOB.bytes + 4, tables: 2 * GEMM_JOB.bytes + 8, sqrtE: 2 * GEMM_JOB.bytes + 16, cut: 2 * GEMM_JOB.bytes + 24, bytes: 2 * GEMM_JOB.bytes + 32 } as const;

const F64_LOAD = (off: number) => [0x2b, 3, ...uleb(off)];
const F64_STORE = [0x39, 3, 0], F32_STORE = [0x38, 2, 0], I32_STORE = (off: number) => [0x36, 2, ...uleb(off)];
const F64_ADD = [0xa0], F64_SUB = [0xa1], F64_MUL = [0xa2], F64_DIV = [0xa3];
const F64_LT = [0x63], F64_GT = [0x64], F64_LE = [0x65], F64_GE = [0x66];
const PROMOTE = [0xbb], DEMOTE = [0xb6], TRUNC_S = [0xaa], SHR_S = [0x75], OR_ = [0x72], XOR = [0x73], RETURN = [0x0f], ELSE_ = [0x05];

/** attnPair32 (es 4) / attnPair64 (es 8): params (desc, c, scratch); gemmFn: the module's product of that precision. */
export function attnPairBody(es: 4 | 8, gemmFn: number): number[] {
  const [D, C, SCR] = [0, 1, 2];
  const [R, T, ROW, RS, I, J, JE, KI, TB] = [3, 4, 5, 6, 7, 8, 9, 10, 11]; // i32
  const [SQ, CUT, MAX, SUM, X, K, RR, R2, F] = [12, 13, 14, 15, 16, 17, 18, 19, 20]; // f64
  const G = GEMM_JOB, A = ATTN_PAIR;
  const ld = (f: number) => [...get(R), ...I32_LOAD(f)];
  const product = (base: number) => [
    ...ld(base + G.a), ...ld(base + G.b), ...ld(base + G.out), ...ld(base + G.M), ...ld(base + G.K), ...ld(base + G.N),
    ...ld(base + G.ars), ...ld(base + G.aks), ...ld(base + G.bks), ...ld(base + G.bps), ...ld(base + G.ors), ...ld(base + G.mode), ...ld(base + G.bias),
    ...get(SCR), ...call(gemmFn),
  ];
  const at = (j: number) => [...get(ROW), ...get(j), ...i32(es), ...MUL, ...ADD]; // address of element j of the row
  const loadS = (j: number) => [...at(j), ...(es === 4 ? [...F32_LOAD(0), ...PROMOTE] : F64_LOAD(0))];
  /** Store the float64 that `value` leaves as element j (rounded to float32 in float32). */
  const storeS = (j: number, value: number[]) => [...at(j), ...value, ...(es === 4 ? [...DEMOTE, ...F32_STORE] : F64_STORE)];
  const rounded = (value: number[]) => (es === 4 ? [...value, ...DEMOTE, ...PROMOTE] : value);
  const loopJ = (end: number[], body: number[]) => [...i32(0), ...set(J), ...end, ...set(JE), ...whileLoop([...get(J), ...get(JE), ...LT_S], [...body, ...get(J), ...i32(1), ...ADD, ...set(J)])];
  const upToI = [...get(I), ...i32(1), ...ADD];

  // expNeg(X) for X in [−708, 0], leaves the result on the stack (clobbers K, RR, R2, F, KI)
  const expNeg = [
    ...get(X), ...f64c(STEPS_PER_LN2), ...F64_MUL, ...f64c(ROUND), ...F64_ADD, ...f64c(ROUND), ...F64_SUB, ...set(K),
    ...get(X), ...get(K), ...f64c(LN2_HI), ...F64_MUL, ...F64_SUB, ...get(K), ...f64c(LN2_LO), ...F64_MUL, ...F64_SUB, ...set(RR),
    ...get(K), ...TRUNC_S, ...set(KI),
    ...get(RR), ...get(RR), ...F64_MUL, ...set(R2),
    // f = FRAC[ki & 255]
    ...get(TB), ...get(KI), ...i32(255), ...AND, ...i32(8), ...MUL, ...ADD, ...F64_LOAD(0), ...set(F),
    // q = r + r2·(0.5 + r·C3 + r2·C4); (f + f·q) · POW2[(ki >> 8) + 1022]
    ...get(F), ...get(F),
    ...get(RR), ...get(R2), ...f64c(0.5), ...get(RR), ...f64c(C3), ...F64_MUL, ...F64_ADD, ...get(R2), ...f64c(C4), ...F64_MUL, ...F64_ADD, ...F64_MUL, ...F64_ADD,
    ...F64_MUL, ...F64_ADD,
    ...get(TB), ...i32(256 * 8), ...ADD, ...get(KI), ...i32(8), ...SHR_S, ...i32(1022), ...ADD, ...i32(8), ...MUL, ...ADD, ...F64_LOAD(0),
    ...F64_MUL,
  ];

  const row: number[] = [
    ...get(I), ...get(RS), ...MUL, ...ld(A.scores + G.out), ...ADD, ...set(ROW),
    // scale, maximum
    ...f64c(-Infinity), ...set(MAX),
    ...loopJ(upToI, [
      ...rounded([...loadS(J), ...get(SQ), ...F64_DIV]), ...set(X),
      ...storeS(J, get(X)),
      ...get(X), ...get(MAX), ...get(X), ...get(MAX), ...F64_GT, ...SELECT, ...set(MAX),
    ]),
    // a key the fast exponential does not cover (not below the cut, not in [−708, 0], NaN included): stop here
    ...loopJ(upToI, [
      ...loadS(J), ...get(MAX), ...F64_SUB, ...set(X),
      ...get(X), ...get(CUT), ...F64_LT, ...get(X), ...f64c(MIN), ...F64_GE, ...get(X), ...f64c(0), ...F64_LE, ...AND, ...OR_, ...i32(1), ...XOR,
      ...IF, ...get(R), ...get(I), ...i32(1), ...ADD, ...I32_STORE(A.flag), ...RETURN, ...END,
    ]),
    // exponentials and their sum
    ...f64c(0), ...set(SUM),
    ...loopJ(upToI, [
      ...loadS(J), ...get(MAX), ...F64_SUB, ...set(X),
      ...get(X), ...get(CUT), ...F64_LT, ...IF,
      ...storeS(J, f64c(0)),
      ...ELSE_,
      ...expNeg, ...set(X),
      ...storeS(J, get(X)),
      ...get(SUM), ...get(X), ...F64_ADD, ...set(SUM),
      ...END,
    ]),
    // normalise; zero the masked keys the value product reads (to the end of the row's block of ROWS)
    ...loopJ(upToI, [...storeS(J, [...loadS(J), ...get(SUM), ...F64_DIV])]),
    ...get(I), ...i32(1), ...ADD, ...set(J),
    ...get(I), ...i32(ROWS), ...ADD, ...get(T), ...get(I), ...i32(ROWS), ...ADD, ...get(T), ...LT_S, ...SELECT, ...set(JE),
    ...whileLoop([...get(J), ...get(JE), ...LT_S], [...storeS(J, f64c(0)), ...get(J), ...i32(1), ...ADD, ...set(J)]),
    ...get(I), ...i32(1), ...ADD, ...set(I),
  ];

  const code = [
    ...get(D), ...get(C), ...i32(A.bytes), ...MUL, ...ADD, ...set(R),
    ...ld(A.T), ...set(T), ...ld(A.scores + G.ors), ...set(RS), ...ld(A.tables), ...set(TB),
    ...get(R), ...F64_LOAD(A.sqrtE), ...set(SQ), ...get(R), ...F64_LOAD(A.cut), ...set(CUT),
    ...get(R), ...i32(0), ...I32_STORE(A.flag),
    ...product(A.scores),
    ...i32(0), ...set(I),
    ...whileLoop([...get(I), ...get(T), ...LT_S], row),
    ...product(A.values),
  ];
  return funcBody([[9, I32], [9, F64]], code);
}
