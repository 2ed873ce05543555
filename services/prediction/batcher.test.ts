import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { linearModel } from '../../testing/models.js';
import { Batcher, RowWidthError, type InferFunction } from './batcher.js';
import { openModel } from './inference-open.js';
import { infer } from './model-cache.js';

interface FakeModel {
  readonly name: string;
  readonly inputWidth: number;
}

/** A linear "model" computed in JS, recording the size of every run it is asked for. */
function fakeInfer(runs: number[] = []): InferFunction<FakeModel> {
  return async (model, rows, count) => {
    runs.push(count);
    await nextTurn(); // like onnxruntime-node, answer after a turn
    const out = new Float32Array(count);
    for (let r = 0; r < count; r++) {
      let sum = 0;
      for (let c = 0; c < model.inputWidth; c++) sum += rows[r * model.inputWidth + c] * (c + 1);
      out[r] = sum;
    }
    return out;
  };
}

const rowOf = (i: number, width: number) => Array.from({ length: width }, (_, c) => (i % 97) / 100 + c / 1000);

describe('micro-batcher', () => {
  const model: FakeModel = { name: 'm', inputWidth: 5 };

  it('gathers 64 concurrent requests into fewer runs with the same results as one by one', async () => {
    const runs: number[] = [];
    const batched = new Batcher({ infer: fakeInfer(runs), maxBatch: 64, maxQueueDelayMs: 0.1 });
    const alone = new Batcher({ infer: fakeInfer(), maxBatch: 64, maxQueueDelayMs: 0 });
    const rows = Array.from({ length: 64 }, (_, i) => rowOf(i, 5));
    const together = await Promise.all(rows.map((row) => batched.predict(model, row)));
    const separately = await Promise.all(rows.map((row) => alone.predict(model, row)));
    assert.deepEqual(together, separately);
    assert.deepEqual(runs, [64], 'one run for requests made in one turn');
    assert.deepEqual(batched.stats(), { requests: 64, runs: 1, rows: 64 });
    assert.deepEqual(alone.stats(), { requests: 64, runs: 64, rows: 64 }, 'delay 0 switches batching off');
  });

  it('never runs more than maxBatch rows at once', async () => {
    const runs: number[] = [];
    const batcher = new Batcher({ infer: fakeInfer(runs), maxBatch: 16, maxQueueDelayMs: 0.1 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => batcher.predict(model, rowOf(i, 5))));
    assert.ok(
      runs.every((n) => n <= 16),
      `runs ${runs}`,
    );
    assert.equal(
      runs.reduce((a, b) => a + b, 0),
      100,
    );
    assert.deepEqual(runs, [16, 16, 16, 16, 16, 16, 4], 'full batches at once, the rest at the end of the turn');
  });

  it('with a delay of 1 ms or more, waits for requests of later turns', async () => {
    const runs: number[] = [];
    const batcher = new Batcher({ infer: fakeInfer(runs), maxBatch: 64, maxQueueDelayMs: 30 });
    const answers: Promise<number>[] = [];
    for (let i = 0; i < 5; i++) {
      answers.push(batcher.predict(model, rowOf(i, 5)));
      await nextTurn();
    }
    await Promise.all(answers);
    assert.deepEqual(runs, [5]);
  });

  it('queues per model, so a swap never mixes versions in one run', async () => {
    const seen: Array<[string, number]> = [];
    const infer: InferFunction<FakeModel> = async (m, rows, count) => {
      seen.push([m.name, count]);
      return fakeInfer()(m, rows, count);
    };
    const batcher = new Batcher({ infer, maxBatch: 64, maxQueueDelayMs: 0.1 });
    const v2: FakeModel = { name: 'm-v2', inputWidth: 5 };
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => batcher.predict(model, rowOf(i, 5))),
      ...Array.from({ length: 7 }, (_, i) => batcher.predict(v2, rowOf(i, 5))),
    ]);
    assert.deepEqual(seen.sort(), [
      ['m', 10],
      ['m-v2', 7],
    ]);
  });

  it('a failed run fails its own requests only', async () => {
    let call = 0;
    const infer: InferFunction<FakeModel> = async (m, rows, count) => {
      if (call++ === 0) throw new Error('boom');
      return fakeInfer()(m, rows, count);
    };
    const batcher = new Batcher({ infer, maxBatch: 4, maxQueueDelayMs: 0.1 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => batcher.predict(model, rowOf(i, 5))));
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
  });

  it('refuses a row of the wrong width and a bad configuration', async () => {
    const batcher = new Batcher({ infer: fakeInfer(), maxBatch: 8, maxQueueDelayMs: 0.1 });
    await assert.rejects(batcher.predict(model, [1, 2, 3]), RowWidthError);
    await assert.rejects(batcher.run(model, new Float32Array(7), 2), RowWidthError);
    assert.throws(() => new Batcher({ infer: fakeInfer(), maxBatch: 0, maxQueueDelayMs: 1 }), RangeError);
    assert.equal(new Batcher({ infer: fakeInfer(), maxBatch: 1, maxQueueDelayMs: 1 }).enabled, false);
  });

  it('drain() runs what is queued and waits for it', async () => {
    const runs: number[] = [];
    const batcher = new Batcher({ infer: fakeInfer(runs), maxBatch: 64, maxQueueDelayMs: 50 });
    const pending = Promise.all([batcher.predict(model, rowOf(1, 5)), batcher.predict(model, rowOf(2, 5))]);
    await batcher.drain();
    assert.deepEqual(runs, [2]);
    assert.equal((await pending).length, 2);
  });

  it('batches a real ONNX Runtime session: fewer runs, the same numbers as one row at a time', async () => {
    const width = 25;
    const weights = Array.from({ length: width }, (_, i) => (i % 2 ? -1 : 1) * 0.01 * (i + 1));
    const loaded = await openModel(linearModel({ width, weights, bias: 0.002 }), {
      name: 'batch-test',
      version: 1,
      featureSet: { name: 'ohlcv', version: 1 },
      inputWidth: width,
      inputName: 'features',
      outputName: 'log_return',
    });
    try {
      const batcher = new Batcher({ infer, maxBatch: 64, maxQueueDelayMs: 0.1 });
      const rows = Array.from({ length: 64 }, (_, i) => rowOf(i, width));
      const together = await Promise.all(rows.map((row) => batcher.predict(loaded, row)));
      const alone: number[] = [];
      for (const row of rows) alone.push((await infer(loaded, Float32Array.from(row), 1))[0]);
      assert.deepEqual(together, alone);
      assert.ok(batcher.stats().runs < 64, `runs ${batcher.stats().runs}`);
      const expected = Math.fround(rows[3].reduce((sum, v, c) => sum + Math.fround(v) * Math.fround(weights[c]), 0.002));
      assert.ok(Math.abs(together[3] - expected) < 1e-5, `${together[3]} ≈ ${expected}`);
    } finally {
      await loaded.session.release();
    }
  });
});
