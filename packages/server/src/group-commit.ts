/**
 * Group commit. Each kind of write (routes of one role, outcomes, previews, manual transitions)
 * has a lane, and a lane writes one batch at a time: requests that arrive while its batch is
 * being written wait, and the next batch takes them all at once, so one service call, one unit
 * of work and one fsync serve all of them. Under load the batches grow by themselves; an idle
 * server writes each request alone, at once.
 *
 * Lanes run side by side: the store orders their units of work (the file store queues them
 * under one lock hold and syncs one while the next writes; a database locks per role), so a
 * batch of routes and a batch of outcomes are not paid for one after the other.
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
  busy: boolean;
}

export class GroupCommitQueue {
  private readonly lanes = new Map<string, Lane<unknown, unknown>>();
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
        lane = { run, jobs: [], maxBatch, busy: false };
        this.lanes.set(key, lane as unknown as Lane<unknown, unknown>);
      }
      lane.jobs.push({ input, resolve, reject });
      this.kick(key, lane);
    });
  }

  /** Resolves once every queued request has been written. */
  idle(): Promise<void> {
    if (this.lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private kick<I, O>(key: string, lane: Lane<I, O>): void {
    if (lane.busy) return;
    if (lane.jobs.length === 0) {
      this.lanes.delete(key);
      if (this.lanes.size === 0) for (const waiter of this.idleWaiters.splice(0)) waiter();
      return;
    }
    lane.busy = true;
    const jobs = lane.jobs.splice(0, lane.maxBatch);
    void this.write(lane, jobs).finally(() => {
      lane.busy = false;
      this.kick(key, lane);
    });
  }

  private async write<I, O>(lane: Lane<I, O>, jobs: Array<Job<I, O>>): Promise<void> {
    let outputs: O[];
    try {
      outputs = await lane.run(jobs.map((job) => job.input));
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    this.stats.batches += 1;
    this.stats.items += jobs.length;
    jobs.forEach((job, i) => job.resolve(outputs[i]!));
  }
}
