/**
 * Every static error: its code, its exact line:column (counted by hand), the
 * text its caret underlines, and that all errors of a program come together.
 */
import { describe, expect, it } from "vitest";
import { load } from "../../src/lang/check.ts";
import { formatDiagnostic, lineAndColumn, ProgramError } from "../../src/lang/diagnostics.ts";

interface Reported {
  /** "line:col" as printed in the `path:line:col:` prefix. */
  readonly at: string;
  readonly code: string;
  readonly message: string;
  /** The source text the carets sit under. */
  readonly underlined: string;
  readonly block: readonly string[];
}

/** Load `text`, expect a ProgramError, and read back what it prints. */
function errorsOf(text: string, path = "t.circ"): Reported[] {
  let error: unknown;
  try {
    load({ path, text });
  } catch (e) {
    error = e;
  }
  expect(error, "expected a ProgramError").toBeInstanceOf(ProgramError);
  const lines = (error as ProgramError).message.split("\n");
  const out: Reported[] = [];
  for (let k = 0; k < lines.length; k++) {
    const m = new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:(\\d+):(\\d+): error (E\\d{3}): (.*)$`).exec(lines[k]!);
    if (!m) continue;
    const excerpt = lines[k + 1]!;
    const carets = lines[k + 2]!;
    const first = carets.indexOf("^");
    const width = carets.length - first;
    expect(carets.slice(first)).toMatch(/^\^+$/);
    // The excerpt is "  N | <source line>": carets are aligned under the source text.
    expect(excerpt.startsWith(`  ${m[1]} | `)).toBe(true);
    out.push({
      at: `${m[1]}:${m[2]}`,
      code: m[3]!,
      message: m[4]!,
      underlined: excerpt.slice(first, first + width),
      block: lines.slice(k, k + 3),
    });
    // The caret starts at the reported column.
    expect(first - `  ${m[1]} | `.length + 1).toBe(Number(m[2]));
  }
  expect(out.length, "one printed block per diagnostic").toBe((error as ProgramError).diagnostics.length);
  return out;
}

/** Expect exactly one error and return it. */
function only(text: string): Reported {
  const errs = errorsOf(text);
  expect(errs.map((e) => `${e.at} ${e.code} ${e.message}`)).toHaveLength(1);
  return errs[0]!;
}

const H = "vocab a b c\ncontext 8\n";
const PREV = "  head h: select j = i - 1; copy token[j] as p\n";

describe("syntax errors (E001)", () => {
  it("a missing ':' after the head name", () => {
    const e = only(`${H}layer 1\n  head h select j = i - 1; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:10", "E001", "s"]);
    expect(e.message).toContain('expected ":"');
  });

  it("a missing 'as'", () => {
    const e = only(`${H}layer 1\n  head h: select j = i - 1; copy token[j] p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:43", "E001", "p"]);
    expect(e.message).toContain('"as"');
  });

  it("a keyword as a head name", () => {
    const e = only(`${H}layer 1\n  head layer: select j = i - 1; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code]).toEqual(["4:8", "E001"]);
    expect(e.message).toContain("expected a name");
  });

  it("an index other than i or j", () => {
    const e = only(`${H}layer 1\n  head h: select j = i - 1; copy token[k] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:40", "E001", "k"]);
  });

  it("a stray character at the end", () => {
    const e = only(`${H}layer 1\n${PREV}output p\n@`);
    expect([e.at, e.code, e.underlined]).toEqual(["6:1", "E001", "@"]);
  });
});

describe("names", () => {
  it("unknown feature (E031)", () => {
    const e = only(`${H}layer 1\n  head h: select j = i - 1; copy tok[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:34", "E031", "tok[j]"]);
    expect(e.block).toEqual([
      "t.circ:4:34: error E031: unknown feature 'tok'",
      "  4 |   head h: select j = i - 1; copy tok[j] as p",
      "                                       ^^^^^^",
    ]);
  });

  it("unknown output feature (E031)", () => {
    const e = only(`${H}layer 1\n${PREV}output q\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["5:8", "E031", "q"]);
  });

  it("duplicate feature (E032)", () => {
    const e = only(`${H}layer 1\n${PREV}  head g: select j = i - 2; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["5:46", "E032", "p"]);
  });

  it("duplicate feature across layers (E032)", () => {
    const e = only(`${H}layer 1\n${PREV}layer 2\n  head g: select j = i - 2; copy p[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["6:42", "E032", "p"]);
  });

  it("a reserved feature name (E032)", () => {
    const e = only(`${H}layer 1\n  head h: select j = i - 1; copy token[j] as pos\noutput token\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:46", "E032", "pos"]);
  });

  it("duplicate head (E030)", () => {
    const e = only(`${H}layer 1\n${PREV}  head h: select j = i - 2; copy token[j] as q\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["5:8", "E030", "h"]);
  });
});

describe("reading order", () => {
  it("a feature read in the layer that writes it is rejected at the read", () => {
    const e = only(`${H}layer 1\n${PREV}  head g: select j = i - 1; copy p[j] as q\noutput q\n`);
    expect([e.at, e.underlined]).toEqual(["5:34", "p[j]"]);
    expect(e.code).toBe("E033"); // regression: was reported as an unknown feature (E031)
    expect(e.message).toBe("feature 'p' is written in layer 1 and cannot be read in layer 1");
  });

  it("a feature read before the layer that writes it is rejected at the read", () => {
    const e = only(`${H}layer 1\n  head h: select j = i - 1; copy q[j] as p\nlayer 2\n  head g: select j = i - 1; copy token[j] as q\noutput q\n`);
    expect([e.at, e.underlined]).toEqual(["4:34", "q[j]"]);
    expect(e.code).toBe("E033");
    expect(e.message).toBe("feature 'q' is written in layer 2 and cannot be read in layer 1");
  });

  it("a key-side read in the same layer is rejected too", () => {
    const e = only(`${H}layer 1\n${PREV}  head g: select latest j < i where p[j] == token[i]; copy token[j] as q\noutput q\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["5:37", "E033", "p[j]"]);
  });
});

describe("sides and domains", () => {
  it("x[i] as a copied value (E034)", () => {
    const e = only(`${H}layer 1\n  head h: select j = i - 1; copy token[i] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:34", "E034", "token[i]"]);
    expect(e.message).toContain("token[j]");
  });

  it("both sides of == indexed by j (E034)", () => {
    const e = only(`${H}layer 1\n  head h: select latest j < i where token[j] == pos[j]; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:37", "E034", "token[j] == pos[j]"]);
  });

  it("both sides of == indexed by i (E034)", () => {
    const e = only(`${H}layer 1\n  head h: select latest j < i where token[i] == token[i]; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:37", "E034", "token[i] == token[i]"]);
  });

  it("comparing a token with a position (E035)", () => {
    const e = only(`${H}layer 1\n  head h: select latest j < i where token[j] == pos[i]; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:37", "E035", "token[j] == pos[i]"]);
  });

  it("comparing a distribution written by an every head (E036)", () => {
    const e = only(
      `${H}layer 1\n  head h: select every j < i; copy token[j] as p\nlayer 2\n  head g: select latest j < i where p[j] == token[i]; copy token[j] as q\noutput q\n`,
    );
    expect([e.at, e.code, e.underlined]).toEqual(["6:37", "E036", "p[j]"]);
  });

  it("comparing a distribution on the query side, copied from an every head (E036)", () => {
    const e = only(
      `${H}layer 1\n  head h: select every j < i; copy token[j] as p\nlayer 2\n  head g: select j = i - 1; copy p[j] as q\nlayer 3\n  head k: select latest j < i where token[j] == q[i]; copy token[j] as r\noutput r\n`,
    );
    expect([e.at, e.code, e.underlined]).toEqual(["8:49", "E036", "q[i]"]);
  });

  it("a shift on token-valued features (E037)", () => {
    const e = only(`${H}layer 1\n  head h: select latest j < i where token[j] == token[i] + 1; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:37", "E037", "token[j] == token[i] + 1"]);
  });

  it("a count in layer 1, or comparing a feature written in the layer before it (E038)", () => {
    const e = only(`${H}layer 1\n  head n: select count j <= i where token[j] == token[i]; copy pos[j] as n\noutput token\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:11", "E038", "select count j <= i where token[j] == token[i]"]);
    const f = only(
      `${H}layer 1\n  head p: select j = i - 1; copy token[j] as prev\nlayer 2\n  head n: select count j < i where prev[j] == token[i]; copy token[j] as nth\noutput nth\n`,
    );
    expect([f.at, f.code, f.underlined]).toEqual(["6:36", "E038", "prev[j] == token[i]"]);
    expect(f.message).toMatch(/count in layer 2 compares 'prev', written in layer 1: a count's conditions must be written by layer 0/);
  });

  it("a count two layers after its conditions is accepted: a match with rule count, reported beyond induction", () => {
    const p = load({
      path: "t",
      text: `${H}layer 1\n  head p: select j = i - 1; copy token[j] as prev\nlayer 2\n  head q: select j = i; copy token[j] as same\nlayer 3\n  head n: select count j < i where prev[j] == token[i]; copy pos[j] as n, token[j] as nth\noutput nth\n`,
    });
    expect(p.layers[2]![0]!.select).toEqual({ kind: "match", rule: "count", strict: true, conditions: [{ key: "prev", query: "token", shift: 0 }] });
    expect(p.features.get("n")!.domain).toBe("pos");
    expect(p.beyondInduction).toEqual(["n"]);
  });

  it("a shift on positions is accepted, on either side, and normalised to key == query + shift", () => {
    const a = load({ path: "t", text: `${H}layer 1\n  head h: select latest j <= i where pos[j] - 1 == pos[i]; copy token[j] as p\noutput p\n` });
    const b = load({ path: "t", text: `${H}layer 1\n  head h: select latest j <= i where pos[i] + 1 == pos[j]; copy token[j] as p\noutput p\n` });
    for (const p of [a, b]) {
      expect(p.layers[0]![0]!.select).toEqual({ kind: "match", rule: "latest", strict: false, conditions: [{ key: "pos", query: "pos", shift: 1 }] });
      expect(p.beyondInduction).toEqual(["h"]);
    }
  });
});

describe("layers and output", () => {
  it("a layer out of order (E020)", () => {
    const e = only(`${H}layer 2\n${PREV}output p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["3:1", "E020", "layer 2"]);
  });

  it("an empty layer (E021)", () => {
    const e = only(`${H}layer 1\nlayer 2\n${PREV}output p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["3:1", "E021", "layer 1"]);
  });

  it("a missing output (E040), reported at the end of the program", () => {
    const e = only(`${H}layer 1\n${PREV}`);
    expect([e.at, e.code]).toEqual(["5:1", "E040"]);
  });

  it("an output holding positions (E041)", () => {
    const e = only(`${H}layer 1\n  head h: select j = i - 1; copy pos[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["5:8", "E041", "p"]);
  });

  it("an offset reaching before the context (E050)", () => {
    const e = only(`vocab a b\ncontext 4\nlayer 1\n  head h: select j = i - 4; copy token[j] as p\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["4:11", "E050", "select j = i - 4"]);
    expect(() => load({ path: "t", text: `vocab a b\ncontext 4\nlayer 1\n  head h: select j = i - 3; copy token[j] as p\noutput p\n` })).not.toThrow();
  });
});

describe("vocabulary and context", () => {
  const BODY = `layer 1\n${PREV}output p\n`;

  it("missing vocab (E010) at 1:1", () => {
    const e = only(`context 8\n${BODY}`);
    expect([e.at, e.code]).toEqual(["1:1", "E010"]);
  });

  it("missing context (E011) at 1:1", () => {
    const e = only(`vocab a b\n${BODY}`);
    expect([e.at, e.code]).toEqual(["1:1", "E011"]);
  });

  it("context out of range (E011), below and above", () => {
    const low = only(`vocab a b\ncontext 1\n${BODY}`);
    expect([low.at, low.code, low.underlined]).toEqual(["2:9", "E011", "1"]);
    const high = only(`vocab a b\ncontext 9000\n${BODY}`);
    expect([high.at, high.code, high.underlined]).toEqual(["2:9", "E011", "9000"]);
    expect(() => load({ path: "t", text: `vocab a b\ncontext 2\nlayer 1\n  head h: select j = i - 1; copy token[j] as p\noutput p\n` })).not.toThrow();
    expect(() => load({ path: "t", text: `vocab a b\ncontext 8192\n${BODY}` })).not.toThrow();
  });

  it("an oversized vocabulary (E010)", () => {
    const e = only(`vocab 0..4096\ncontext 8\n${BODY}`);
    expect([e.at, e.code, e.underlined]).toEqual(["1:1", "E010", "vocab 0..4096"]);
    expect(load({ path: "t", text: `vocab 0..4095\ncontext 8\n${BODY}` }).vocab).toHaveLength(4096);
  });

  it("a duplicate token (E010) at its second occurrence", () => {
    const e = only(`vocab a b a\ncontext 8\n${BODY}`);
    expect([e.at, e.code, e.underlined]).toEqual(["1:11", "E010", "a"]);
  });

  it("vocab and context declared twice (E010, E011)", () => {
    const errs = errorsOf(`vocab a b\nvocab c d\ncontext 8\ncontext 9\n${BODY}`);
    expect(errs.map((e) => `${e.at} ${e.code} ${e.underlined}`)).toEqual(["2:1 E010 vocab c d", "4:9 E011 9"]);
  });

  it("a numeric range vocabulary names its tokens by number", () => {
    expect(load({ path: "t", text: `vocab 3..6\ncontext 8\n${BODY}` }).vocab).toEqual(["3", "4", "5", "6"]);
    const e = only(`vocab 3..1\ncontext 8\n${BODY}`);
    expect([e.at, e.code]).toEqual(["1:1", "E010"]);
  });
});

describe("several errors", () => {
  it("are all reported together, in source order", () => {
    const text = [
      "vocab a b a",
      "context 8",
      "layer 1",
      "  head h: select j = i - 1; copy tok[j] as p",
      "  head h: select j = i; copy token[i] as q",
      "layer 3",
      "  head g: select latest j < i where token[j] == pos[i]; copy p[j] as r",
      "output zz",
      "",
    ].join("\n");
    expect(errorsOf(text).map((e) => `${e.at} ${e.code} ${e.underlined}`)).toEqual([
      "1:11 E010 a",
      "4:34 E031 tok[j]",
      "5:8 E030 h",
      "5:30 E034 token[i]",
      "6:1 E020 layer 3",
      "7:37 E035 token[j] == pos[i]",
      "8:8 E031 zz",
    ]);
  });

  it("an empty file reports vocab, context and output at once", () => {
    expect(errorsOf("").map((e) => `${e.at} ${e.code}`)).toEqual(["1:1 E010", "1:1 E011", "1:1 E040"]);
  });

  it("the diagnostics carry their spans, and the message is their formatting", () => {
    const source = { path: "x.circ", text: `${H}layer 1\n  head h: select j = i - 1; copy tok[j] as p\noutput zz\n` };
    let err: ProgramError | undefined;
    try {
      load(source);
    } catch (e) {
      err = e as ProgramError;
    }
    expect(err?.diagnostics.map((d) => d.code)).toEqual(["E031", "E031"]);
    const [d] = err!.diagnostics;
    expect(source.text.slice(d!.span.start, d!.span.end)).toBe("tok[j]");
    expect(lineAndColumn(source.text, d!.span.start)).toEqual({ line: 4, column: 34 });
    expect(err!.message.startsWith(formatDiagnostic(source, d!))).toBe(true);
    expect(err!.message).toContain("hint: features defined before layer 1: token, pos");
  });
});

describe("comments and whitespace", () => {
  it("comments do not shift positions", () => {
    const e = only(`# a comment\nvocab a b # tokens\ncontext 8\nlayer 1 # first\n  head h: select j = i - 1; copy tok[j] as p # copy\noutput p\n`);
    expect([e.at, e.code, e.underlined]).toEqual(["5:34", "E031", "tok[j]"]);
  });

  it("the ';' before copy is optional and keywords are not name prefixes", () => {
    const p = load({ path: "t", text: `vocab a b\ncontext 8\nlayer 1\n  head layered: select j = i - 1 copy token[j] as outputs\noutput outputs\n` });
    expect(p.layers[0]![0]!.name).toBe("layered");
    expect(p.output).toBe("outputs");
  });
});
