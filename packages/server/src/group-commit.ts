/**
 * Group commit: the server is the project's only writer in this process, and it writes one batch
 * at a time. Requests that arrive while a batch is being written wait in a lane (one per kind of
 * write: routes of one role, outcomes, previews) and the next batch takes a whole lane at once:
 * one service call, one lock, one ledger append and one fsync for all of them. Under load the
 * batches grow by themselves; an idle server writes each request alone, at once.
 */

interface Job<I, O> {
  input: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

interface Lane<I, O> {
  run: (inputs: I[]) => Promise<O[]>;
  jobs: Array<Job<I, O>>;
  maxBatch: number;
}

export class GroupCommitQueue {
  // A Map keeps insertion order: lanes are served oldest-waiting first, so no lane starves.
  private readonly lanes = new Map<string, Lane<unknown, unknown>>();
  private running: Promise<void> | null = null;
  private idleWaiters: Array<() => void> = [];
  /** Batches written so far and the items in them (for the log and the bench). */
  readonly stats = { batches: 0, items: 0 };

  /**
   * Queue `input` in lane `key`; `run` writes a whole batch of the lane and returns one output
   * per input, in order. A throw fails every request of that batch with the same error.
   */
  submit<I, O>(key: string, input: I, run: (inputs: I[]) => Promise<O[]>, maxBatch = 1000): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let lane = this.lanes.get(key) as Lane<I, O> | undefined;
      if (!lane) {
        lane = { run, jobs: [], maxBatch };
        this.lanes.set(key, lane as unknown as Lane<unknown, unknown>);
      }
      lane.jobs.push({ input, resolve, reject });
      this.kick();
    });
  }

  /** Resolves once every queued request has been written. */
  idle(): Promise<void> {
    if (!this.running && this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.lanes.size > 0) this.kick();
      else for (const waiter of this.idleWaiters.splice(0)) waiter();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const first = this.lanes.entries().next();
      if (first.done) return;
      const [key, lane] = first.value;
      const jobs = lane.jobs.splice(0, lane.maxBatch);
      // Re-queue the rest behind the other lanes.
      this.lanes.delete(key);
      if (lane.jobs.length > 0) this.lanes.set(key, lane);
      let outputs: unknown[];
      try {
        outputs = await lane.run(jobs.map((job) => job.input));
      } catch (error) {
        for (const job of jobs) job.reject(error);
        continue;
      }
      this.stats.batches += 1;
      this.stats.items += jobs.length;
      jobs.forEach((job, i) => job.resolve(outputs[i]));
    }
  }
}
