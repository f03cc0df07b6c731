/**
 * When sharing work with a helper thread costs time instead of saving it.
 * On a busy machine a helper can be descheduled while it holds a chunk and
 * keep the calling thread waiting longer than running every chunk alone
 * would have taken. After such a job (its wall time exceeds the caller's own
 * time per chunk × all chunks) the next 1, 2, 4 … 256 jobs run on the
 * calling thread alone, and one that gains resets the count.
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
