/**
 * A linear pre-pass before Ohm: comments and runs of whitespace become one
 * separator character each, a leading UTF-8 byte-order mark is dropped, and
 * control characters are refused with their location. Ohm memoises every
 * rule at every character (about 700 bytes per character of comment or
 * blank space), so without this a 1 MB comment costs hundreds of MB; the
 * grammar never gives whitespace or comments meaning beyond separating
 * tokens, so collapsing them parses to the same tree. Positions in the
 * compact text map back to the original through `toOriginal`.
 */
import type { Span } from "./ast.ts";

/** The compact text and the way back to original character offsets. */
export interface Compacted {
  readonly text: string;
  /** Original offset of a compact offset (0 … text.length). */
  toOriginal(offset: number): number;
  /** Original span of a compact span. */
  spanToOriginal(span: Span): Span;
}

/** A control character the language refuses, and where it is. */
export interface ControlChar {
  readonly offset: number;
  readonly code: number;
}

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** True for characters a program may not contain: C0 controls but tab/LF/CR, DEL and C1 controls. */
export function isControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f);
}

/** The first control character of `text`, or null. */
export function firstControl(text: string): ControlChar | null {
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (isControl(c)) return { offset: k, code: c };
  }
  return null;
}

/** Collapse comments and whitespace (see the module comment); `text` must hold no control characters. */
export function compact(text: string): Compacted {
  const parts: string[] = [];
  // Segment k covers compact [cStart[k], cStart[k+1]) and starts at original oStart[k];
  // inside a copied segment offsets advance together, a collapsed run is one character.
  const cStart: number[] = [];
  const oStart: number[] = [];
  let out = 0;
  let k = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let copyFrom = -1;
  const flush = (end: number) => {
    if (copyFrom >= 0) {
      parts.push(text.slice(copyFrom, end));
      out += end - copyFrom;
      copyFrom = -1;
    }
  };
  while (k < text.length) {
    const c = text.charCodeAt(k);
    if (isBlank(c) || c === 0x23 /* # */) {
      flush(k);
      const runStart = k;
      let newline = false;
      while (k < text.length) {
        const d = text.charCodeAt(k);
        if (d === 0x23) {
          while (k < text.length && text.charCodeAt(k) !== 0x0a) k++;
        } else if (isBlank(d)) {
          if (d === 0x0a) newline = true;
          k++;
        } else break;
      }
      cStart.push(out);
      oStart.push(runStart);
      parts.push(newline ? "\n" : " ");
      out += 1;
    } else {
      if (copyFrom < 0) {
        copyFrom = k;
        cStart.push(out);
        oStart.push(k);
      }
      k++;
    }
  }
  flush(text.length);
  const compactText = parts.join("");
  const runs = new Set<number>();
  // A segment is a collapsed run when the next one starts one compact character later but further on in the original.
  for (let s = 0; s < cStart.length; s++) {
    const nextC = s + 1 < cStart.length ? cStart[s + 1]! : out;
    const nextO = s + 1 < oStart.length ? oStart[s + 1]! : text.length;
    if (nextC - cStart[s]! !== nextO - oStart[s]!) runs.add(s);
  }
  const toOriginal = (offset: number): number => {
    if (offset >= out) return text.length;
    let lo = 0;
    let hi = cStart.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cStart[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return runs.has(lo) ? oStart[lo]! : oStart[lo]! + (offset - cStart[lo]!);
  };
  return {
    text: compactText,
    toOriginal,
    spanToOriginal: (span) => {
      const start = toOriginal(span.start);
      const end = span.end > span.start ? toOriginal(span.end - 1) + 1 : start;
      return { start, end };
    },
  };
}
