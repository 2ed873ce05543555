import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DailyBar } from './feature-sets/index.js';
import { randomWalkBars } from './feature-sets/testing.js';
import { PackedHistory } from './history.js';
import { unpackBars } from './vector-job.js';

describe('PackedHistory', () => {
  it('gives back exactly the bars it was given, a missing turnover as undefined and -0 as -0', () => {
    const bars: DailyBar[] = randomWalkBars(40, { seed: 5, turnover: 'sometimes' });
    bars[3] = { ...bars[3], turnover: null as unknown as undefined, volume: -0 };
    const history = PackedHistory.of(bars)!;
    const expected = bars.map((b) => ({ ...b, turnover: b.turnover ?? undefined }));
    assert.deepEqual(history.bars(), expected);
    assert.ok(Object.is(history.bar(3).volume, -0));
    assert.deepEqual(unpackBars(history.packed()), expected);
    assert.equal(history.lastDate(), bars[39].date);
    // With a start, earlier positions are holes: nothing before it is built.
    const tail = history.bars(30);
    assert.equal(tail.length, 40);
    assert.equal(Object.keys(tail).length, 10);
    assert.deepEqual(tail.slice(30), expected.slice(30));
  });

  it('keeps a history as it was when a longer one is made from it, or two, or a failed one', () => {
    const bars = randomWalkBars(300, { seed: 9 });
    const base = PackedHistory.of(bars.slice(0, 100))!;
    let grown = base;
    for (let t = 100; t < 200; t++) grown = grown.append([bars[t]])!;
    // A second history from the same base must not overwrite the first's bars.
    const other = { ...bars[100], close: bars[100].close * 2, high: bars[100].high * 2 };
    const branch = base.append([other])!;
    assert.deepEqual(grown.bars(), bars.slice(0, 200));
    assert.deepEqual(branch.bars(), [...bars.slice(0, 100), other]);
    assert.deepEqual(base.bars(), bars.slice(0, 100));
    // A bar that cannot be kept gives no history and leaves the others whole.
    assert.equal(grown.append([bars[200], { ...bars[201], close: '5' as unknown as number }]), undefined);
    assert.equal(grown.append([{ ...bars[200], date: '2024-1-1' }]), undefined);
    assert.deepEqual(grown.append([bars[200]])!.bars(), bars.slice(0, 201));
    assert.deepEqual(grown.bars(), bars.slice(0, 200));
  });
});
