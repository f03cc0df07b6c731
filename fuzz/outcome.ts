/**
 * What a fuzz case can come to, and the tally a run prints. A case is fine
 * when it succeeds or is refused cleanly (a known error class, one short
 * first line, no raw control bytes); otherwise it is a crash (an internal
 * error), a hang (over the time limit), out-of-memory (over the memory
 * limit) or a silent accept (a known defect's input taken without
 * complaint). Findings tagged with a defect that another branch fixes are
 * counted apart, as expected until the branches merge.
 */

export type Kind = "crash" | "hang" | "oom" | "silent";

export interface Finding {
  readonly family: string;
  readonly kind: Kind;
  /** Issue 8's defect number the finding belongs to, when it is one of them. */
  readonly defect?: number;
  readonly detail: string;
  /** Enough to reproduce: the program text, file mutation or argv (shortened). */
  readonly input: string;
}

/** Defects whose findings are tolerated as fixed elsewhere: none since every branch merged, so every finding counts. */
export const OTHER_BRANCH_DEFECTS: ReadonlySet<number> = new Set<number>();

/** Limits every case is held to. */
export const LIMITS = { caseMs: 2000, rssBytes: 1 << 30 } as const;

/** Counts per family and the findings themselves. */
export class Tally {
  readonly tried = new Map<string, number>();
  readonly findings: Finding[] = [];
  /** Counted observations that are not findings (e.g. duplicate header keys accepted, last one winning). */
  readonly notes = new Map<string, number>();
  maxCaseMs = 0;
  maxRss = 0;

  /** Count one tried input. */
  count(family: string, n = 1): void {
    this.tried.set(family, (this.tried.get(family) ?? 0) + n);
  }

  add(f: Finding): void {
    this.findings.push(f);
  }

  /** Count an observation. */
  note(what: string): void {
    this.notes.set(what, (this.notes.get(what) ?? 0) + 1);
  }

  /** Fold another tally (e.g. a child process's) into this one. */
  merge(o: { tried: [string, number][]; findings: Finding[]; notes: [string, number][]; maxCaseMs: number; maxRss: number }): void {
    for (const [k, n] of o.tried) this.count(k, n);
    for (const f of o.findings) this.add(f);
    for (const [k, n] of o.notes) this.notes.set(k, (this.notes.get(k) ?? 0) + n);
    this.maxCaseMs = Math.max(this.maxCaseMs, o.maxCaseMs);
    this.maxRss = Math.max(this.maxRss, o.maxRss);
  }

  /** A plain-data copy for sending between processes. */
  toJSON() {
    return { tried: [...this.tried], findings: this.findings, notes: [...this.notes], maxCaseMs: this.maxCaseMs, maxRss: this.maxRss };
  }

  /** Findings that are not expected from other branches' defects. */
  unexpected(): Finding[] {
    return this.findings.filter((f) => f.defect === undefined || !OTHER_BRANCH_DEFECTS.has(f.defect));
  }

  /** The summary printed at the end of a run. */
  summary(): string {
    const lines: string[] = [];
    const total = [...this.tried.values()].reduce((a, b) => a + b, 0);
    lines.push(`inputs tried: ${total}`);
    for (const [fam, n] of this.tried) lines.push(`  ${fam}: ${n}`);
    const mine = this.unexpected();
    const expected = this.findings.filter((f) => !mine.includes(f));
    const by = (fs: Finding[], k: Kind) => fs.filter((f) => f.kind === k).length;
    lines.push(`crashes (internal errors, stack traces, exit codes other than 0/1/2): ${by(mine, "crash")}`);
    lines.push(`hangs (> ${LIMITS.caseMs / 1000} s of CPU per case beyond start-up, or killed at the wall-clock limit): ${by(mine, "hang")}`);
    lines.push(`out-of-memory (> ${LIMITS.rssBytes / 2 ** 30} GB resident): ${by(mine, "oom")}`);
    lines.push(`silent accepts of issue 8's defects: ${by(mine, "silent")}`);
    lines.push(`slowest library case: ${this.maxCaseMs.toFixed(0)} ms CPU; largest resident set: ${(this.maxRss / 2 ** 20).toFixed(0)} MB`);
    for (const [k, n] of this.notes) lines.push(`note: ${k}: ${n}`);
    if (expected.length) {
      const perDefect = new Map<number, Finding[]>();
      for (const f of expected) perDefect.set(f.defect!, [...(perDefect.get(f.defect!) ?? []), f]);
      lines.push(`expected until other branches merge (defects ${[...OTHER_BRANCH_DEFECTS].join(", ")}): ${expected.length}`);
      for (const [d, fs] of [...perDefect].sort((a, b) => a[0] - b[0])) {
        lines.push(`  defect ${d}: ${fs.length} (${(["crash", "hang", "oom", "silent"] as Kind[]).map((k) => `${by(fs, k)} ${k}`).join(", ")}) e.g. ${fs[0]!.family}: ${fs[0]!.detail}`);
      }
    }
    for (const f of mine.slice(0, 20)) lines.push(`FINDING ${f.family} ${f.kind}${f.defect ? ` (defect ${f.defect})` : ""}: ${f.detail}\n    input: ${f.input}`);
    if (mine.length > 20) lines.push(`… ${mine.length - 20} more findings`);
    return lines.join("\n");
  }
}

/** A short, escaped rendering of an input for a report line. */
export function shorten(s: string, n = 200): string {
  // eslint-disable-next-line no-control-regex
  const esc = JSON.stringify(s.length > n ? `${s.slice(0, n)}…` : s);
  return esc;
}

/** True when a refusal message is clean: first line short, no raw control bytes anywhere, bounded in all. */
export function cleanMessage(msg: string, maxTotal = 64 * 1024): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(msg)) return false;
  const first = msg.split("\n", 1)[0]!;
  return first.length > 0 && first.length <= 1000 && msg.length <= maxTotal;
}
