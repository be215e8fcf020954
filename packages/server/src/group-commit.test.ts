import { describe, expect, it } from 'vitest';
import { GroupCommitQueue } from './group-commit.js';

describe('GroupCommitQueue', () => {
  it('writes an idle request alone and coalesces what arrives meanwhile into one batch per lane; lanes run side by side', async () => {
    const queue = new GroupCommitQueue();
    const batches: Array<{ lane: string; inputs: number[] }> = [];
    const run = (lane: string) => async (inputs: number[]) => {
      batches.push({ lane, inputs });
      await new Promise((r) => setTimeout(r, 5));
      return inputs.map((n) => n * 10);
    };
    const first = queue.submit('a', 1, run('a'));
    const rest = [2, 3, 4].map((n) => queue.submit('a', n, run('a')));
    const other = queue.submit('b', 5, run('b'));
    expect(await Promise.all([first, ...rest, other])).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      { lane: 'a', inputs: [1] },
      { lane: 'b', inputs: [5] },
      { lane: 'a', inputs: [2, 3, 4] },
    ]);
    await queue.idle();
    expect(queue.stats).toEqual({ batches: 3, items: 5 });
  });

  it('fails every request of a failed batch with its error and goes on with the next', async () => {
    const queue = new GroupCommitQueue();
    const failing = async () => {
      throw new Error('disk full');
    };
    const ok = async (inputs: string[]) => inputs.map((s) => s.toUpperCase());
    const a = queue.submit('x', 'a', failing);
    const b = queue.submit('y', 'b', ok);
    await expect(a).rejects.toThrow('disk full');
    expect(await b).toBe('B');
  });

  it('keeps one batch in flight per lane: a lane never runs two of its batches at once', async () => {
    const queue = new GroupCommitQueue();
    let inFlight = 0;
    let most = 0;
    const run = async (inputs: number[]) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight -= 1;
      return inputs;
    };
    const all: Array<Promise<number>> = [];
    for (let i = 0; i < 20; i++) {
      all.push(queue.submit('lane', i, run, 3));
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect(await Promise.all(all)).toEqual([...Array(20).keys()]);
    expect(most).toBe(1);
    await queue.idle();
    expect(queue.stats.items).toBe(20);
  });

  it('caps a batch at maxBatch and serves the rest in the next batches of the lane', async () => {
    const queue = new GroupCommitQueue();
    const seen: string[][] = [];
    const run = async (inputs: string[]) => {
      seen.push(inputs);
      return inputs;
    };
    const all = ['1', '2', '3', '4', '5'].map((s) => queue.submit('lane', s, run, 2));
    const other = queue.submit('other', 'o', run, 2);
    await Promise.all([...all, other]);
    expect(seen).toEqual([['1'], ['o'], ['2', '3'], ['4', '5']]);
  });
});
