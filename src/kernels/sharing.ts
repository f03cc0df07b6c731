/**
 * How a calling thread shares a job's chunks with a helper thread (the
 * kernels' helper, helper.ts, and the compiled forward's, compactThreads.ts):
 * both claim chunks from a counter word, and a job where the helper cost time
 * sends the next ones to the calling thread alone for a while.
 */

/**
 * The claim tag of job number `seq`: a counter word holds (seq mod 2¹⁶) << 16
 * | next chunk, so a thread that read a finished job's words claims nothing
 * of a later one (its tag differs; a finished job's counter is closed at
 * next chunk 0xffff before a later job's words are written).
 */
export function jobTag(seq: number): number {
  return (seq & 0xffff) << 16;
}

/** Claim chunks of the job tagged `tag` (n of them) from control[at] until none is left, running each; returns how many this thread ran. */
export function claimChunks(control: Int32Array, at: number, tag: number, n: number, run: (chunk: number) => void): number {
  let mine = 0;
  for (;;) {
    const cur = Atomics.load(control, at);
    if ((cur & 0xffff0000) !== tag || (cur & 0xffff) >= n) return mine;
    if (Atomics.compareExchange(control, at, cur, cur + 1) !== cur) continue;
    run(cur & 0xffff);
    mine++;
  }
}

/**
 * Block until the helper has finished the chunks this thread did not run (it
 * counts them in control[at]); `who` names the caller in the timeout's
 * message. With `waiting` ≥ 0, control[waiting] is 1 while this thread may
 * sleep, so a helper needs to notify only then (a notify is a system call
 * of about 10 µs): the flag is raised before the count is read again, so a
 * chunk finished after that read sees it.
 */
export function waitForHelper(control: Int32Array, at: number, mine: number, n: number, who: string, waiting = -1): void {
  for (;;) {
    let done = Atomics.load(control, at);
    if (mine + done >= n) return;
    if (waiting >= 0) {
      Atomics.store(control, waiting, 1);
      done = Atomics.load(control, at);
      if (mine + done >= n) {
        Atomics.store(control, waiting, 0);
        return;
      }
    }
    const r = Atomics.wait(control, at, done, 60_000);
    if (waiting >= 0) Atomics.store(control, waiting, 0);
    if (r === "timed-out") throw new Error(`${who}: the helper thread did not finish its chunks`);
  }
}

/**
 * When sharing costs time instead of saving it. On a busy machine a helper
 * can be descheduled while it holds a chunk and keep the calling thread
 * waiting longer than running every chunk alone would have taken. After such
 * a job (its wall time exceeds the caller's own time per chunk × all chunks)
 * the next 1, 2, 4 … 256 jobs run on the calling thread alone, and one that
 * gains resets the count.
 */
export class HelperBackoff {
  private alone = 0;
  private penalty = 0;
  /** Jobs after which the helper was found to have cost time. */
  lostJobs = 0;

  /** Whether the next job should run on this thread alone (counts that job off). */
  skip(): boolean {
    if (this.alone === 0) return false;
    this.alone--;
    return true;
  }

  /** Record a shared job: its wall time, and this thread's own time for the `mine` of its `n` chunks it ran. */
  record(wallMs: number, ownMs: number, mine: number, n: number): void {
    // A helper that took nothing (or everything, when only it runs) says nothing of its cost.
    if (mine === 0 || mine === n) return;
    const lost = wallMs > (ownMs / mine) * n;
    this.penalty = lost ? Math.min(256, Math.max(1, 2 * this.penalty)) : 0;
    this.alone = this.penalty;
    if (lost) this.lostJobs++;
  }
}
