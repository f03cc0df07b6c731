/** The README's library example, run as written (imports through the package entry point). */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile, encodeInput, forward, generateSymbolic, interpret, load } from "../../src/index.ts";
import { REPO_ROOT } from "../support/programs.ts";
import { modelInput } from "../../src/model/tokenIds.ts";

describe("README library example", () => {
  it("runs and gives the documented values", () => {
    const program = load({ path: "induction.circ", text: readFileSync(`${REPO_ROOT}/programs/induction.circ`, "utf8") });
    const input = encodeInput(program, "a b c d a b c");
    const run = interpret(program, input);
    expect(run.prediction(5)).toBe(1); // position 5 holds the second "a": it predicts "b"
    expect(run.value("prev", 5)).toBe(3); // the token before it, "d"
    const model = compile(program);
    const { cache } = forward(model.weights, modelInput(input), { cache: true });
    expect(cache!.get("blocks.1.attn.hook_pattern")!.shape).toEqual([1, 8, 8]);
    expect(generateSymbolic(program, encodeInput(program, "a b c a"), { steps: 6 }).generated).toEqual([1, 2, 0, 1, 2, 0]);
  });
});
