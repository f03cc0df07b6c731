/**
 * Per-model scratch arrays, kept between forward calls: fresh large arrays
 * cost page faults (measured ~2.7 ms per MB on the bench machine, more than
 * the arithmetic of a compiled model's forward).
 */
import type { FloatArray } from "../model/weights.ts";
import type { PreparedModel } from "./prepare.ts";

/** Arrays bigger than this (elements) are not kept in a workspace between calls. */
const WORKSPACE_MAX_ELEMENTS = 1 << 24;

const workspaces = new WeakMap<PreparedModel, (key: string, n: number) => FloatArray>();

/**
 * A model's scratch arrays, by name: take(key, n) gives an array of exactly n
 * elements (a view of a kept buffer, grown when needed; contents undefined).
 * One per thread: each thread has its own module state.
 */
export function workspace(model: PreparedModel): (key: string, n: number) => FloatArray {
  let ws = workspaces.get(model);
  if (!ws) {
    const kept = new Map<string, FloatArray>();
    ws = (key, n) => {
      if (n > WORKSPACE_MAX_ELEMENTS) return model.alloc(n);
      let a = kept.get(key);
      if (!a || a.length < n) {
        a = model.alloc(Math.max(n, Math.min(WORKSPACE_MAX_ELEMENTS, (a?.length ?? 0) * 2)));
        kept.set(key, a);
      }
      return a.subarray(0, n);
    };
    workspaces.set(model, ws);
  }
  return ws;
}
