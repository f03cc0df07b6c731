/**
 * Exploratory search behind proofs/08's open case (not a test): one `every`
 * head on raw token windows — keys and queries drawn from token, lag1 … lag3
 * (one or two conjuncts), copying one of them, `j <= i` or `j < i` — run
 * greedily from random prompts, looking for a generation whose tail is not
 * periodic. It runs its own direct count simulator (successor counts per key,
 * mode with ties to the lowest index, ⊥ → token 0), not the reference
 * semantics. `npx tsx proofs/skipgramSearch.ts` prints the shapes searched and
 * any aperiodic run found.
 */
type Spec = { K: number[]; Q: number[]; X: number; strict: boolean };
function run(spec: Spec, V: number, prompt: number[], steps: number): number[] {
  const s = [-1, ...prompt];
  const lag = (p: number, d: number) => (p - d >= 1 ? s[p - d] : -1);
  const counts = new Map<string, number[]>();
  const add = (j: number) => {
    const key = spec.K.map((d) => lag(j, d));
    if (key.includes(-1)) return;
    const k = key.join(",");
    let c = counts.get(k); if (!c) { c = new Array(V + 1).fill(0); counts.set(k, c); }
    const x = lag(j, spec.X); c[x === -1 ? V : x]++;
  };
  const n0 = s.length - 1;
  for (let j = 1; j <= n0 - (spec.strict ? 1 : 0); j++) add(j);
  const out: number[] = [];
  for (let st = 0; st < steps; st++) {
    const t = s.length - 1;
    if (!spec.strict) {} // all j<=t already added
    const q = spec.Q.map((d) => lag(t, d));
    let e = 0;
    if (!q.includes(-1)) {
      const c = counts.get(q.join(","));
      if (c) { let best = -1; for (let v = 0; v < V; v++) if (c[v] > 0 && (best < 0 || c[v] > c[best])) best = v; if (best >= 0) e = best; }
    }
    out.push(e);
    if (spec.strict) add(t);
    s.push(e);
    if (!spec.strict) add(t + 1);
  }
  return out;
}
function periodic(seq: number[], from: number): number | null {
  const tail = seq.slice(from);
  for (let p = 1; p <= tail.length / 3; p++) { let ok = true; for (let i = p; i < tail.length; i++) if (tail[i] !== tail[i - p]) { ok = false; break; } if (ok) return p; }
  return null;
}
const specs: Spec[] = [];
const feats = [0, 1, 2, 3];
for (const strict of [false, true]) for (const X of feats) for (const k1 of feats) for (const q1 of [0,1,2]) {
  specs.push({ K: [k1], Q: [q1], X, strict });
  for (const k2 of feats) for (const q2 of [0,1,2]) if (k2 > k1 && q2 !== q1) specs.push({ K: [k1, k2], Q: [q1, q2], X, strict });
}
let rnd = 12345; const rand = () => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const found: string[] = [];
for (const spec of specs) {
  for (const V of [2, 3]) {
    for (let trial = 0; trial < 60; trial++) {
      const L = 1 + Math.floor(rand() * 8);
      const prompt = Array.from({ length: L }, () => Math.floor(rand() * V));
      const seq = run(spec, V, prompt, 3000);
      if (periodic(seq, 2000) === null) { found.push(`${JSON.stringify(spec)} V=${V} prompt=${prompt.join("")} tail=${seq.slice(2900,2960).join("")}`); break; }
    }
  }
}
console.log(`${specs.length} head shapes × V ∈ {2, 3} × 60 prompts: ${found.length} aperiodic runs`);
for (const f of found.slice(0, 40)) console.log(f);
