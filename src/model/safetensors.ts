/**
 * A dependency-free reader and writer for the safetensors format
 * (https://github.com/huggingface/safetensors) for float data: F64 and F32 bit
 * for bit, F16 and BF16 decoded exactly to Float32Array (and encoded, rounded
 * to nearest-even, on request).
 *
 * Layout of a file:
 *   bytes [0, 8)       N, the header length, an unsigned 64-bit little-endian integer
 *   bytes [8, 8 + N)   the header: UTF-8 JSON, starting with "{", padded with spaces
 *                      so that 8 + N is a multiple of 8
 *   bytes [8 + N, end) the byte buffer holding every tensor's raw little-endian data
 *
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the start of the byte buffer) and may hold a
 * "__metadata__" object of string → string. The tensors must cover the byte
 * buffer exactly: no gaps, no overlaps, no trailing bytes.
 *
 * Every error thrown here is an Error whose one-line message starts with
 * "safetensors: " and says what is wrong and where.
 */

import { bf16ToNumber, f16ToNumber, numberToBF16, numberToF16 } from "./halfFloat.ts";
import type { FloatArray, Tensor } from "./weights.ts";

/** The dtypes this module can read and write. */
export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16";

/** The reserved header key for the free-form string → string metadata. */
export const METADATA_KEY = "__metadata__";

/** Largest header accepted, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element sizes of every dtype in the safetensors spec; only the float ones can be decoded. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Options for {@link decodeSafetensors}. */
export interface DecodeOptions {
  /**
   * Tensors for which this returns true are validated (known dtype, shape,
   * offsets) but not decoded nor returned, so they may have any spec dtype
   * (e.g. TransformerLens's BOOL `blocks.N.attn.mask` buffers).
   */
  readonly skip?: (name: string, dtype: string) => boolean;
}

function fail(message: string): never {
  throw new Error(`safetensors: ${message}`);
}

/** A short one-line rendering of an arbitrary JSON value for error messages. */
function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function dtypeOf(data: unknown): SafetensorsDtype | undefined {
  if (data instanceof Float64Array) return "F64";
  if (data instanceof Float32Array) return "F32";
  return undefined;
}

/** Reverse the bytes of every `size`-byte element in place (for big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Options for {@link encodeSafetensors}. */
export interface EncodeOptions {
  /** Store the named tensor as F16 or BF16 instead (values rounded to nearest, ties to even). */
  readonly half?: (name: string) => "F16" | "BF16" | undefined;
}

/** Bytes of `data` as F16 or BF16 (little-endian). */
function halfBytes(data: FloatArray, dtype: "F16" | "BF16"): Uint8Array {
  const out = new Uint8Array(data.length * 2);
  const conv = dtype === "F16" ? numberToF16 : numberToBF16;
  for (let i = 0; i < data.length; i++) {
    const bits = conv(data[i]!);
    out[2 * i] = bits & 0xff;
    out[2 * i + 1] = bits >> 8;
  }
  return out;
}

/**
 * Serialise tensors to safetensors bytes. Float64Array data is written as F64,
 * Float32Array as F32, bit for bit. The header lists tensors in the given
 * order; in the byte buffer F64 tensors come before F32 ones so that every
 * tensor is aligned to its element size within the file.
 */
export function encodeSafetensors(
  tensors: ReadonlyArray<readonly [string, Tensor]>,
  metadata: Readonly<Record<string, string>> = {},
  options: EncodeOptions = {},
): Uint8Array {
  if (!isPlainObject(metadata)) fail(`cannot encode: metadata must be an object of strings, got ${kind(metadata)}`);
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") fail(`cannot encode: metadata value for ${JSON.stringify(k)} is not a string (got ${kind(v)})`);
    if (LONE_SURROGATE.test(k) || LONE_SURROGATE.test(v)) fail(`cannot encode: metadata entry ${JSON.stringify(k)} is not valid Unicode (lone surrogate)`);
  }

  interface Entry {
    name: string;
    dtype: SafetensorsDtype;
    shape: number[];
    bytes: Uint8Array;
    begin: number;
    end: number;
  }
  const seen = new Set<string>();
  const entries: Entry[] = [];
  for (const pair of tensors) {
    const [name, t] = pair;
    const where = `cannot encode tensor ${JSON.stringify(name)}`;
    if (typeof name !== "string") fail(`cannot encode: tensor name ${show(name)} is not a string`);
    if (name === METADATA_KEY) fail(`${where}: the name is reserved for metadata`);
    if (LONE_SURROGATE.test(name)) fail(`${where}: the name is not valid Unicode (lone surrogate)`);
    if (seen.has(name)) fail(`${where}: duplicate name`);
    seen.add(name);
    if (!isPlainObject(t)) fail(`${where}: expected a {shape, data} tensor, got ${kind(t)}`);
    const native = dtypeOf(t.data);
    if (native === undefined) fail(`${where}: data must be a Float64Array or Float32Array`);
    const half = options.half?.(name);
    if (half !== undefined && half !== "F16" && half !== "BF16") fail(`${where}: half dtype must be F16 or BF16, got ${show(half)}`);
    const dtype: SafetensorsDtype = half ?? native;
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${show(shape)}`);
    }
    let count = 1n;
    for (const d of shape) count *= BigInt(d);
    if (count !== BigInt(t.data.length)) {
      fail(`${where}: shape ${show(shape)} needs ${count} elements but data has ${t.data.length}`);
    }
    entries.push({
      name,
      dtype,
      shape: [...shape],
      bytes: half ? halfBytes(t.data, half) : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      begin: 0,
      end: 0,
    });
  }

  // Data placement: larger elements first, so every tensor is naturally aligned.
  let offset = 0;
  for (const dtype of ["F64", "F32", "F16", "BF16"] as const) {
    for (const e of entries) {
      if (e.dtype !== dtype) continue;
      e.begin = offset;
      offset += e.bytes.length;
      e.end = offset;
    }
  }
  const dataLength = offset;

  // Build the header by hand to keep keys in the given order (JSON.stringify
  // of an object would move integer-like names to the front).
  const parts: string[] = [];
  if (Object.keys(metadata).length > 0) {
    const meta = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(",")}}`);
  }
  for (const e of entries) {
    const info = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] };
    parts.push(`${JSON.stringify(e.name)}:${JSON.stringify(info)}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  if (headerLength > MAX_HEADER_BYTES) fail(`cannot encode: header of ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);

  const out = new Uint8Array(8 + headerLength + dataLength);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  const dataStart = 8 + headerLength;
  for (const e of entries) {
    out.set(e.bytes, dataStart + e.begin);
    // Half bytes are built little-endian already.
    if (!LITTLE_ENDIAN_HOST && (e.dtype === "F64" || e.dtype === "F32")) swapBytes(out.subarray(dataStart + e.begin, dataStart + e.end), e.dtype === "F64" ? 8 : 4);
  }
  return out;
}

interface ParsedEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parse and fully validate safetensors bytes. Returned tensors own fresh,
 * aligned buffers (they never alias `bytes`). F64 data comes back as
 * Float64Array and F32 as Float32Array, bit for bit; F16 and BF16 as
 * Float32Array holding exactly the stored values. The dtype each tensor was
 * stored in is in `dtypes`.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): { tensors: Map<string, Tensor>; metadata: Record<string, string>; dtypes: Map<string, string> } {
  if (!(bytes instanceof Uint8Array)) fail(`expected a Uint8Array, got ${kind(bytes)}`);
  const size = bytes.length;
  if (size < 8) fail(`file is ${size} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(size - 8)) fail(`header length ${n} exceeds file size ${size} (only ${size - 8} bytes follow the length prefix)`);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(n);
  if (headerLength < 2) fail(`header length ${headerLength} is too small for a JSON object`);
  if (bytes[8] !== 0x7b) fail(`header does not start with "{" (byte 8 is 0x${bytes[8].toString(16).padStart(2, "0")})`);

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail(`header (bytes 8..${8 + headerLength}) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/\s+/g, " ") : String(e);
    fail(`invalid JSON header (bytes 8..${8 + headerLength}): ${why}`);
  }
  if (!isPlainObject(header)) fail(`header must be a JSON object, got ${kind(header)}`);

  const dataStart = 8 + headerLength;
  const dataLength = size - dataStart;
  const metadata: Record<string, string> = {};
  const entries: ParsedEntry[] = [];

  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(info)) fail(`${METADATA_KEY} must be an object of strings, got ${kind(info)}`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== "string") fail(`${METADATA_KEY} value for ${JSON.stringify(k)} is not a string (got ${kind(v)} ${show(v)})`);
        // defineProperty, not assignment, so a "__proto__" key is kept as data
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(info)) fail(`${where} entry must be an object with dtype, shape and data_offsets, got ${kind(info)}`);
    for (const key of ["dtype", "shape", "data_offsets"]) {
      if (!(key in info)) fail(`${where} has no "${key}" field`);
    }
    for (const key of Object.keys(info)) {
      if (key !== "dtype" && key !== "shape" && key !== "data_offsets") fail(`${where} has unexpected field ${JSON.stringify(key)}`);
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== "string") fail(`${where} dtype must be a string, got ${show(dtype)}`);
    const itemBytes = DTYPE_BYTES[dtype];
    if (itemBytes === undefined || !Object.hasOwn(DTYPE_BYTES, dtype)) fail(`${where} has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where} shape must be an array of non-negative integers, got ${show(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`${where} data_offsets must be two non-negative integers [begin, end], got ${show(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`${where} data_offsets [${begin},${end}] are reversed (begin > end)`);
    if (end > dataLength) fail(`${where} data_offsets [${begin},${end}] are out of range of the ${dataLength}-byte data buffer`);
    let expected = BigInt(itemBytes);
    for (const d of shape as number[]) expected *= BigInt(d);
    if (expected !== BigInt(end - begin)) {
      fail(`${where} data_offsets [${begin},${end}] do not match shape ${show(shape)} of ${dtype} (${expected} bytes)`);
    }
    entries.push({ name, dtype, shape: [...(shape as number[])], begin, end });
  }

  // The tensors must tile the byte buffer exactly.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let prev: ParsedEntry | undefined;
  for (const e of sorted) {
    if (e.begin < covered && prev !== undefined) {
      fail(`tensors ${JSON.stringify(prev.name)} [${prev.begin},${prev.end}] and ${JSON.stringify(e.name)} [${e.begin},${e.end}] overlap`);
    }
    if (e.begin > covered) {
      const before = prev === undefined ? "before the first tensor" : `between tensors ${JSON.stringify(prev.name)} and`;
      fail(`data bytes [${covered},${e.begin}) ${before} ${JSON.stringify(e.name)} are not covered by any tensor`);
    }
    if (e.end > covered || prev === undefined) {
      covered = e.end;
      prev = e;
    }
  }
  if (covered !== dataLength) {
    const after = prev === undefined ? "(there are no tensors)" : `after the last tensor ${JSON.stringify(prev.name)}`;
    fail(`data bytes [${covered},${dataLength}) ${after} are not covered by any tensor`);
  }

  const tensors = new Map<string, Tensor>();
  const dtypes = new Map<string, string>();
  for (const e of entries) {
    if (options.skip?.(e.name, e.dtype)) continue;
    if (e.dtype !== "F64" && e.dtype !== "F32" && e.dtype !== "F16" && e.dtype !== "BF16") {
      fail(`tensor ${JSON.stringify(e.name)} has unsupported dtype ${JSON.stringify(e.dtype)} (only F64, F32, F16 and BF16 can be read)`);
    }
    const data = e.dtype === "F16" || e.dtype === "BF16"
      ? readHalves(bytes, dataStart + e.begin, dataStart + e.end, e.dtype)
      : readFloats(bytes, dataStart + e.begin, dataStart + e.end, e.dtype);
    tensors.set(e.name, { shape: e.shape, data });
    dtypes.set(e.name, e.dtype);
  }
  return { tensors, metadata, dtypes };
}

/** Decode little-endian F16/BF16 bytes [begin, end) exactly into a Float32Array. */
function readHalves(bytes: Uint8Array, begin: number, end: number, dtype: "F16" | "BF16"): Float32Array {
  const out = new Float32Array((end - begin) / 2);
  const conv = dtype === "F16" ? f16ToNumber : bf16ToNumber;
  for (let i = 0; i < out.length; i++) out[i] = conv(bytes[begin + 2 * i]! | (bytes[begin + 2 * i + 1]! << 8));
  return out;
}

/** Copy bytes [begin, end) into a fresh aligned buffer and view them as floats. */
function readFloats(bytes: Uint8Array, begin: number, end: number, dtype: "F64" | "F32"): FloatArray {
  // Not bytes.slice(): on a Node Buffer that returns a view, not a copy.
  const copy = new Uint8Array(end - begin);
  copy.set(bytes.subarray(begin, end));
  const itemBytes = dtype === "F64" ? 8 : 4;
  if (!LITTLE_ENDIAN_HOST) swapBytes(copy, itemBytes);
  const count = copy.length / itemBytes;
  return dtype === "F64" ? new Float64Array(copy.buffer, 0, count) : new Float32Array(copy.buffer, 0, count);
}
