/**
 * Eigenvalues of a real square matrix, complex ones included.
 *
 * Why not mathjs `eigs` alone: mathjs 15 runs a QR iteration with a single
 * real Rayleigh shift and no exceptional shifts, so it stalls on exactly the
 * matrices an OV-circuit analysis meets — a token permutation (a→b, b→c, …)
 * fails to converge at size 8, and so do random 30×30 matrices (measured).
 * We use the textbook method instead (balance → elimination to Hessenberg
 * form → Francis double-shift QR with exceptional shifts; EISPACK `hqr`, as
 * in Numerical Recipes §11.5–11.6) and test it against mathjs on the small
 * matrices where mathjs does converge.
 *
 * Compiled circuits are sparse, and often block-triangular after a
 * permutation (a copying head is a scaled identity on the vocabulary). The
 * strongly connected components of the nonzero pattern give that block form
 * exactly, and the spectrum is the union of the diagonal blocks' spectra,
 * so a 4097-token identity costs 4097 scalar blocks, not one dense QR.
 */
import { type Mat, normalizePow2 } from "./linalg.ts";

/** A complex number. */
export interface Complex {
  readonly re: number;
  readonly im: number;
}

/** Largest diagonal block the dense QR is run on (O(n³): about two seconds at this size). */
export const MAX_DENSE_BLOCK = 500;

/** Raised when a spectrum is too large to compute. */
export class SpectrumTooLarge extends Error {
  override name = "SpectrumTooLarge";
}

/** Every eigenvalue of a real square matrix (with multiplicity). */
export function eigenvalues(input: Mat): Complex[] {
  if (input.rows !== input.cols) throw new Error(`eigenvalues: matrix is [${input.rows},${input.cols}], not square`);
  if (!input.data.every(Number.isFinite)) throw new Error("eigenvalues: the matrix has non-finite entries");
  // QR on entries near 1e308 overflows in its norms and shifts; on the matrix
  // scaled by a power of two (exact) it does not, and eigenvalues scale back.
  const { mat: m, exponent } = normalizePow2(input);
  if (exponent !== 0) {
    // Two factors, so that neither is out of range when 2^exponent is.
    const half = 2 ** Math.trunc(exponent / 2);
    const rest = 2 ** (exponent - Math.trunc(exponent / 2));
    return eigenvalues(m).map((z) => ({ re: z.re * half * rest, im: z.im * half * rest }));
  }
  const out: Complex[] = [];
  for (const comp of components(m)) {
    if (comp.length === 1) {
      out.push({ re: m.data[comp[0]! * m.cols + comp[0]!]!, im: 0 });
      continue;
    }
    if (comp.length > MAX_DENSE_BLOCK) {
      throw new SpectrumTooLarge(`eigenvalues: an irreducible block of size ${comp.length} exceeds ${MAX_DENSE_BLOCK}`);
    }
    out.push(...denseEigenvalues(m, comp));
  }
  return out;
}

/** Strongly connected components of the pattern i → j (M[i][j] ≠ 0), iterative Tarjan. */
function components(m: Mat): number[][] {
  const n = m.rows;
  const adj: number[][] = Array.from({ length: n }, (_, i) => {
    const row: number[] = [];
    for (let j = 0; j < n; j++) if (j !== i && m.data[i * n + j] !== 0) row.push(j);
    return row;
  });
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const out: number[][] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (index[root] !== -1) continue;
    const work: [number, number][] = [[root, 0]];
    index[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (work.length) {
      const top = work[work.length - 1]!;
      const [v, k] = top;
      if (k < adj[v]!.length) {
        top[1] = k + 1;
        const w = adj[v]![k]!;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          work.push([w, 0]);
        } else if (onStack[w]) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]![0];
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] === index[v]) {
        const comp: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          comp.push(w);
        } while (w !== v);
        out.push(comp);
      }
    }
  }
  return out;
}

/** Eigenvalues of the principal submatrix on `idx`: balance, Hessenberg, hqr. 1-based inside, as in EISPACK. */
function denseEigenvalues(m: Mat, idx: readonly number[]): Complex[] {
  const n = idx.length;
  const a: Float64Array[] = Array.from({ length: n + 1 }, () => new Float64Array(n + 1));
  idx.forEach((r, i) => idx.forEach((c, j) => (a[i + 1]![j + 1] = m.data[r * m.cols + c]!)));
  balance(a, n);
  hessenberg(a, n);
  return hqr(a, n);
}

/** Scale rows and columns by powers of 2 so their norms match (similarity, exact in floating point). */
function balance(a: Float64Array[], n: number): void {
  const RADIX = 2;
  let done = false;
  while (!done) {
    done = true;
    for (let i = 1; i <= n; i++) {
      let r = 0;
      let c = 0;
      for (let j = 1; j <= n; j++) {
        if (j === i) continue;
        c += Math.abs(a[j]![i]!);
        r += Math.abs(a[i]![j]!);
      }
      if (c === 0 || r === 0) continue;
      let g = r / RADIX;
      let f = 1;
      const s = c + r;
      while (c < g) {
        f *= RADIX;
        c *= RADIX * RADIX;
      }
      g = r * RADIX;
      while (c > g) {
        f /= RADIX;
        c /= RADIX * RADIX;
      }
      if ((c + r) / f < 0.95 * s) {
        done = false;
        for (let j = 1; j <= n; j++) a[i]![j]! /= f;
        for (let j = 1; j <= n; j++) a[j]![i]! *= f;
      }
    }
  }
}

/** Reduce to upper Hessenberg form by stabilised elimination (a similarity); zeros below the subdiagonal. */
function hessenberg(a: Float64Array[], n: number): void {
  for (let m = 2; m < n; m++) {
    let x = 0;
    let i = m;
    for (let j = m; j <= n; j++) {
      if (Math.abs(a[j]![m - 1]!) > Math.abs(x)) {
        x = a[j]![m - 1]!;
        i = j;
      }
    }
    if (i !== m) {
      for (let j = m - 1; j <= n; j++) [a[i]![j], a[m]![j]] = [a[m]![j]!, a[i]![j]!];
      for (let j = 1; j <= n; j++) [a[j]![i], a[j]![m]] = [a[j]![m]!, a[j]![i]!];
    }
    if (x === 0) continue;
    for (i = m + 1; i <= n; i++) {
      let y = a[i]![m - 1]!;
      if (y === 0) continue;
      y /= x;
      a[i]![m - 1] = 0; // the multiplier is not kept: only eigenvalues are wanted
      for (let j = m; j <= n; j++) a[i]![j]! -= y * a[m]![j]!;
      for (let j = 1; j <= n; j++) a[j]![m]! += y * a[j]![i]!;
    }
  }
}

const sign = (a: number, b: number) => (b >= 0 ? Math.abs(a) : -Math.abs(a));

/** Francis double-shift QR on an upper Hessenberg matrix (EISPACK hqr); destroys `a`. */
function hqr(a: Float64Array[], n: number): Complex[] {
  const wr = new Float64Array(n + 1);
  const wi = new Float64Array(n + 1);
  let anorm = 0;
  for (let i = 1; i <= n; i++) for (let j = Math.max(i - 1, 1); j <= n; j++) anorm += Math.abs(a[i]![j]!);
  let nn = n;
  let t = 0;
  let p = 0, q = 0, r = 0, s = 0, w = 0, x = 0, y = 0, z = 0;
  while (nn >= 1) {
    let its = 0;
    let l: number;
    do {
      for (l = nn; l >= 2; l--) {
        s = Math.abs(a[l - 1]![l - 1]!) + Math.abs(a[l]![l]!);
        if (s === 0) s = anorm;
        if (Math.abs(a[l]![l - 1]!) + s === s) {
          a[l]![l - 1] = 0;
          break;
        }
      }
      x = a[nn]![nn]!;
      if (l === nn) {
        wr[nn] = x + t;
        wi[nn--] = 0;
      } else {
        y = a[nn - 1]![nn - 1]!;
        w = a[nn]![nn - 1]! * a[nn - 1]![nn]!;
        if (l === nn - 1) {
          p = 0.5 * (y - x);
          q = p * p + w;
          z = Math.sqrt(Math.abs(q));
          x += t;
          if (q >= 0) {
            z = p + sign(z, p);
            wr[nn - 1] = wr[nn] = x + z;
            if (z) wr[nn] = x - w / z;
            wi[nn - 1] = wi[nn] = 0;
          } else {
            wr[nn - 1] = wr[nn] = x + p;
            wi[nn - 1] = -(wi[nn] = z);
          }
          nn -= 2;
        } else {
          if (its === 60) throw new Error(`eigenvalues: QR iteration did not converge (block of size ${n})`);
          if (its === 10 || its === 20 || its === 40) {
            // Exceptional shift: breaks the cycles that stall plain shifted QR (permutations, rotations).
            t += x;
            for (let i = 1; i <= nn; i++) a[i]![i]! -= x;
            s = Math.abs(a[nn]![nn - 1]!) + Math.abs(a[nn - 1]![nn - 2]!);
            y = x = 0.75 * s;
            w = -0.4375 * s * s;
          }
          ++its;
          let m: number;
          for (m = nn - 2; m >= l; m--) {
            z = a[m]![m]!;
            r = x - z;
            s = y - z;
            p = (r * s - w) / a[m + 1]![m]! + a[m]![m + 1]!;
            q = a[m + 1]![m + 1]! - z - r - s;
            r = a[m + 2]![m + 1]!;
            s = Math.abs(p) + Math.abs(q) + Math.abs(r);
            p /= s;
            q /= s;
            r /= s;
            if (m === l) break;
            const u = Math.abs(a[m]![m - 1]!) * (Math.abs(q) + Math.abs(r));
            const v = Math.abs(p) * (Math.abs(a[m - 1]![m - 1]!) + Math.abs(z) + Math.abs(a[m + 1]![m + 1]!));
            if (u + v === v) break;
          }
          for (let i = m + 2; i <= nn; i++) {
            a[i]![i - 2] = 0;
            if (i !== m + 2) a[i]![i - 3] = 0;
          }
          for (let k = m; k <= nn - 1; k++) {
            if (k !== m) {
              p = a[k]![k - 1]!;
              q = a[k + 1]![k - 1]!;
              r = 0;
              if (k !== nn - 1) r = a[k + 2]![k - 1]!;
              if ((x = Math.abs(p) + Math.abs(q) + Math.abs(r)) !== 0) {
                p /= x;
                q /= x;
                r /= x;
              }
            }
            if ((s = sign(Math.sqrt(p * p + q * q + r * r), p)) !== 0) {
              if (k === m) {
                if (l !== m) a[k]![k - 1] = -a[k]![k - 1]!;
              } else a[k]![k - 1] = -s * x;
              p += s;
              x = p / s;
              y = q / s;
              z = r / s;
              q /= p;
              r /= p;
              for (let j = k; j <= nn; j++) {
                p = a[k]![j]! + q * a[k + 1]![j]!;
                if (k !== nn - 1) {
                  p += r * a[k + 2]![j]!;
                  a[k + 2]![j]! -= p * z;
                }
                a[k + 1]![j]! -= p * y;
                a[k]![j]! -= p * x;
              }
              const mmin = nn < k + 3 ? nn : k + 3;
              for (let i = l; i <= mmin; i++) {
                p = x * a[i]![k]! + y * a[i]![k + 1]!;
                if (k !== nn - 1) {
                  p += z * a[i]![k + 2]!;
                  a[i]![k + 2]! -= p * r;
                }
                a[i]![k + 1]! -= p * q;
                a[i]![k]! -= p;
              }
            }
          }
        }
      }
    } while (l < nn - 1);
  }
  return Array.from({ length: n }, (_, i) => ({ re: wr[i + 1]!, im: wi[i + 1]! }));
}
