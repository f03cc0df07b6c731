/**
 * Corrupt weights files: a compiled model's safetensors bytes damaged one
 * way per family — truncation, the header length (up to 2^64 − 1), data
 * offsets, dtypes, duplicate keys, shapes, invalid header JSON, non-finite
 * or extreme values, tampered metadata — then loaded, its layout read,
 * decompiled and analysed as `analyze`/`decompile` would. Every family but
 * "extreme" (finite ±1e308 values) and benign metadata edits must be refused.
 */
import { analyzeModel } from "../src/analysis/analyze.ts";
import { decompile } from "../src/analysis/decompile.ts";
import { layoutFromJson } from "../src/analysis/named.ts";
import { compile } from "../src/compiler/compile.ts";
import { layoutToJson } from "../src/compiler/layout.ts";
import { load } from "../src/lang/check.ts";
import { CircuitsError } from "../src/errors.ts";
import { escapeControls } from "../src/lang/diagnostics.ts";
import { mulberry32 } from "../src/sim/random.ts";
import { decodeWeights, encodeWeights } from "../src/model/weightsFile.ts";
import { cleanMessage, type Finding, LIMITS } from "./outcome.ts";

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

export const FILE_FAMILIES = ["truncate", "header-length", "offsets", "dtype", "duplicate-key", "shape", "bad-json", "non-finite", "extreme", "metadata"] as const;
export type FileFamily = (typeof FILE_FAMILIES)[number];

/** Which issue-8 defect a silent accept or crash in a family belongs to (6, 7: the loader branch). */
const FAMILY_DEFECT: Partial<Record<FileFamily, number>> = { "non-finite": 6, extreme: 6, metadata: 7 };

const BASE_PROGRAM = `vocab a b c\ncontext 8\nlayer 1\n  head prev: select j = i - 1; copy token[j] as p\nlayer 2\n  head ind: select latest j < i where p[j] == token[i]; copy token[j] as next\noutput next\n`;

/** The undamaged file every case starts from. */
export function baseFile(): Uint8Array {
  const program = load({ path: "base.circ", text: BASE_PROGRAM });
  const model = compile(program);
  return encodeWeights(model.weights, { tokens: model.tokens, layout: layoutToJson(model.layout), program: BASE_PROGRAM }).bytes;
}

interface Parsed {
  header: Record<string, unknown>;
  data: Uint8Array;
}

function split(bytes: Uint8Array): Parsed {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

function join(headerText: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const tensorNames = (p: Parsed) => Object.keys(p.header).filter((k) => k !== "__metadata__");

/** Damage `base` the way `family` does; `mustRefuse` says whether a loader has to refuse the result. */
export function corrupt(base: Uint8Array, family: FileFamily, rng: Rng): { bytes: Uint8Array; mustRefuse: boolean; what: string } {
  const p = split(base);
  const names = tensorNames(p);
  const name = pick(rng, names);
  const entry = p.header[name] as { dtype: string; shape: number[]; data_offsets: number[] };
  switch (family) {
    case "truncate": {
      const len = int(rng, base.length);
      return { bytes: base.slice(0, len), mustRefuse: true, what: `truncated to ${len} of ${base.length} bytes` };
    }
    case "header-length": {
      const n = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
      const choices = [0n, 1n, 7n, BigInt(n - 1), BigInt(n + 1), BigInt(n + 8), 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(int(rng, 2 ** 31)) * BigInt(int(rng, 2 ** 31))];
      const v = pick(rng, choices);
      const out = base.slice();
      new DataView(out.buffer).setBigUint64(0, v, true);
      return { bytes: out, mustRefuse: v !== BigInt(n), what: `header length set to ${v}` };
    }
    case "offsets": {
      const [b, e] = entry.data_offsets as [number, number];
      const v = pick(rng, [[b + 1, e], [b, e + 1], [b - 8, e - 8], [e, b], [b, b], [-8, e], [b, 2 ** 53], [b, 1e300], [b + 0.5, e], ["0", e], [b], [b, e, e]]);
      if (JSON.stringify(v) === JSON.stringify([b, e])) return corrupt(base, family, rng);
      entry.data_offsets = v as number[];
      return { bytes: join(JSON.stringify(p.header), p.data), mustRefuse: true, what: `${name} data_offsets ${JSON.stringify(v)}` };
    }
    case "dtype": {
      const v = pick(rng, ["F16", "BF16", "I64", "I8", "U8", "BOOL", "F8_E4M3", "f64", "", "F32", "F128", 5, null]);
      if (v === entry.dtype) return corrupt(base, family, rng);
      (entry as { dtype: unknown }).dtype = v;
      return { bytes: join(JSON.stringify(p.header), p.data), mustRefuse: true, what: `${name} dtype ${JSON.stringify(v)}` };
    }
    case "duplicate-key": {
      const text = JSON.stringify(p.header);
      const other = pick(rng, names);
      const dupe = `${JSON.stringify(name)}:${JSON.stringify(p.header[other])},`;
      // Not one of issue 8's defects: JSON.parse keeps the last entry, which here is the original.
      return { bytes: join(`{${dupe}${text.slice(1)}`, p.data), mustRefuse: false, what: `${name} given twice (first as ${other})` };
    }
    case "shape": {
      const s = entry.shape;
      const v = pick(rng, [[...s, 1], s.slice(1), [...s.slice(0, -1), s[s.length - 1]! + 1], [-1, ...s.slice(1)], [2 ** 53, ...s.slice(1)], [0.5, ...s.slice(1)], [], ["2"], [...s].reverse(), [1e300]]);
      if (JSON.stringify(v) === JSON.stringify(s)) return corrupt(base, family, rng);
      entry.shape = v as number[];
      return { bytes: join(JSON.stringify(p.header), p.data), mustRefuse: true, what: `${name} shape ${JSON.stringify(v)}` };
    }
    case "bad-json": {
      const text = JSON.stringify(p.header);
      for (;;) {
        const at = int(rng, text.length);
        const damaged = pick(rng, [
          () => text.slice(0, at) + text.slice(at + 1),
          () => `${text.slice(0, at)}{${text.slice(at)}`,
          () => `${text.slice(0, at)}\u0000${text.slice(at)}`,
          () => text.slice(0, at),
          () => `${text}}`,
          () => text.replace(/"/, ""),
        ])();
        let valid = true;
        try {
          JSON.parse(damaged);
        } catch {
          valid = false;
        }
        if (!valid) return { bytes: join(damaged, p.data), mustRefuse: true, what: `header JSON damaged at ${at}` };
      }
    }
    case "non-finite":
    case "extreme": {
      const out = base.slice();
      const [b, e] = entry.data_offsets as [number, number];
      const size = entry.dtype === "F32" ? 4 : 8;
      const start = base.length - p.data.length + b;
      const count = Math.max(1, (e - b) / size);
      const vals = family === "non-finite" ? [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY] : [1e308, -1e308, 1.7976931348623157e308];
      const dv = new DataView(out.buffer);
      const n = 1 + int(rng, 3);
      for (let k = 0; k < n && e > b; k++) {
        const at = start + int(rng, count) * size;
        const v = pick(rng, vals);
        if (size === 8) dv.setFloat64(at, v, true);
        else dv.setFloat32(at, v, true);
      }
      return { bytes: out, mustRefuse: family === "non-finite" && e > b, what: `${n} ${family} value(s) in ${name}` };
    }
    case "metadata": {
      const meta = p.header.__metadata__ as Record<string, string>;
      const tokens = JSON.parse(meta.tokens!) as string[];
      const layout = JSON.parse(meta.layout!) as { blocks: { name: string; writtenBy: string | null; domain: string | null; kind: string; labels: string[] }[] };
      const blocks = layout.blocks;
      const blk = pick(rng, blocks);
      const feat = blocks.filter((x) => x.kind === "feature");
      const f = pick(rng, feat);
      const how = pick(rng, ["tokens+1", "tokens-1", "rename", "writtenBy", "domain", "kind", "labels", "dupname", "tokens-renamed"]);
      switch (how) {
        case "tokens+1": tokens.push("zz"); break;
        case "tokens-1": tokens.pop(); break;
        case "tokens-renamed": tokens[1] = tokens[2]!; break;
        case "rename": f.name = `${f.name}_x`; break;
        case "writtenBy": f.writtenBy = "nobody"; break;
        case "domain": f.domain = f.domain === "token" ? "pos" : "token"; break;
        case "kind": blk.kind = blk.kind === "feature" ? "token" : "feature"; break;
        case "labels": blk.labels = [...blk.labels].reverse(); if (blk.labels.length < 2) blk.labels = blk.labels.map((l) => `${l}?`); break;
        default: f.name = blocks.find((x) => x !== f && x.kind === "feature")?.name ?? "token";
      }
      meta.tokens = JSON.stringify(tokens);
      meta.layout = JSON.stringify(layout);
      // A new writer name only renames the head in the printed program (same program up to
      // head names, which the layout alone decides): accepting it is right, refusing is not required.
      return { bytes: join(JSON.stringify(p.header), p.data), mustRefuse: how !== "writtenBy", what: `metadata: ${how} (${blk.name}/${f.name})` };
    }
  }
}

/** V8's wording for internal failures, which a wrapped message would still carry. */
const INTERNAL = /Cannot read propert|is not a function|is not iterable|Invalid array length|Invalid typed array length|Array buffer allocation failed|Maximum call stack|Cannot convert|out of bounds|Invalid string length|did not converge|internal error/i;

/** Load and use one damaged file as analyze/decompile would; findings are empty when it was refused cleanly or legitimately accepted. */
export function runFileCase(family: FileFamily, bytes: Uint8Array, mustRefuse: boolean, what: string, deep: boolean): { findings: Finding[]; ms: number; accepted: boolean } {
  const findings: Finding[] = [];
  const defect = FAMILY_DEFECT[family];
  // CPU time, not wall time: the machine is shared, and a hang is work, not waiting.
  const t0 = process.cpuUsage();
  const fam = `file:${family}`;
  let stage = "load";
  let accepted = false;
  try {
    const loaded = decodeWeights(bytes, "fuzz.safetensors");
    stage = "layout";
    const layout = loaded.layout === undefined ? undefined : layoutFromJson(loaded.layout, loaded.weights.config.d_model);
    if (layout) {
      stage = "decompile";
      decompile(loaded.weights, { layout, tokens: loaded.tokens });
    }
    if (deep) {
      stage = "analyze";
      const a = analyzeModel(loaded.weights, { layout, detect: { sequences: 2, bos: 0 } });
      if (/NaN|Infinity/.test(JSON.stringify(a, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)))) {
        findings.push({ family: fam, kind: "silent", defect: 6, detail: "analyze reported non-finite scores", input: what });
      }
    }
    accepted = true;
    if (mustRefuse) findings.push({ family: fam, kind: "silent", ...(defect ? { defect } : {}), detail: `accepted through ${deep ? "analyze" : "decompile"}`, input: what });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // Every refusal is a CircuitsError (kind and fields); anything else escaping is a bug.
    const known = e instanceof CircuitsError;
    // The CLI escapes control bytes in every message it prints, so that is what is judged.
    if (!known || INTERNAL.test(msg) || !cleanMessage(escapeControls(msg), 4096)) {
      findings.push({ family: fam, kind: "crash", ...(defect ? { defect } : {}), detail: `${stage}: ${e instanceof Error ? e.name : typeof e}: ${msg.slice(0, 200)}`, input: what });
    }
  }
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  if (ms > LIMITS.caseMs) findings.push({ family: fam, kind: "hang", detail: `${ms.toFixed(0)} ms CPU`, input: what });
  return { findings, ms, accepted };
}

/** The k-th damaged file of a family, deterministic in (seed, k). */
export function fileInput(base: Uint8Array, family: FileFamily, seed: number, k: number) {
  return corrupt(base, family, mulberry32((seed * 0x85ebca6b + k * 7919) >>> 0));
}
