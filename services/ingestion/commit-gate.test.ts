import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommitGate } from './commit-gate.js';

describe('CommitGate', () => {
  it('runs work on a symbol one at a time, in arrival order, and other symbols alongside', async () => {
    const gate = new CommitGate();
    const log: string[] = [];
    const first = Promise.withResolvers<void>();
    const a1 = gate.withSymbols(['A'], async () => {
      log.push('a1 start');
      await first.promise;
      log.push('a1 end');
    });
    const a2 = gate.withSymbols(['B', 'A'], async () => log.push('a2'));
    const c = gate.withSymbols(['C'], async () => log.push('c'));
    await c;
    assert.deepEqual(log, ['a1 start', 'c'], 'C ran while A was held; the batch of B and A waited');
    assert.deepEqual(gate.busySymbols().sort(), ['A', 'B'], 'the waiting batch has its place in line for both of its symbols');
    first.resolve();
    await Promise.all([a1, a2]);
    assert.deepEqual(log, ['a1 start', 'c', 'a1 end', 'a2']);
    assert.deepEqual(gate.busySymbols(), [], 'nothing held once all is done');
  });

  it('gives a symbol shared by two batches to the one that asked first, even while that one waits for another symbol', async () => {
    const gate = new CommitGate();
    const log: string[] = [];
    const relay = Promise.withResolvers<void>();
    // The relay holds A; batch 1 (A and X) waits for it; batch 2 (X and Y) arrives later.
    const held = gate.withSymbols(['A'], () => relay.promise);
    const batch1 = gate.withSymbols(['A', 'X'], async () => log.push('batch 1'));
    const batch2 = gate.withSymbols(['X', 'Y'], async () => log.push('batch 2'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log, [], 'batch 2 waits for X behind batch 1');
    relay.resolve();
    await Promise.all([held, batch1, batch2]);
    assert.deepEqual(log, ['batch 1', 'batch 2']);
  });

  it('ifFree skips a symbol that is held and runs on a free one', async () => {
    const gate = new CommitGate();
    const held = Promise.withResolvers<void>();
    const commit = gate.withSymbols(['A'], () => held.promise);
    assert.equal(await gate.ifFree('A', async () => 'ran'), undefined);
    assert.equal(await gate.ifFree('B', async () => 'ran'), 'ran');
    held.resolve();
    await commit;
    assert.equal(await gate.ifFree('A', async () => 'ran'), 'ran');
  });

  it('releases a symbol when the work throws', async () => {
    const gate = new CommitGate();
    await assert.rejects(
      gate.withSymbols(['A'], async () => Promise.reject(new Error('store down'))),
      /store down/,
    );
    assert.deepEqual(gate.busySymbols(), []);
    assert.equal(await gate.withSymbols(['A'], async () => 1), 1);
  });

  it('two batches sharing symbols in opposite order both finish', async () => {
    const gate = new CommitGate();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gate.withSymbols(i % 2 ? ['X', 'Y', 'Z'] : ['Z', 'Y', 'X'], async () => i)),
    );
    assert.equal(results.length, 20);
  });
});
