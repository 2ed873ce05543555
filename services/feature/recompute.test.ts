import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectEvents, EventRejectedError, ensureStreams, type EventBus } from '../../lib/events/index.js';
import { startNatsServer, type NatsTestServer } from '../../lib/events/testing.js';
import { migrate, openStore, type Store } from '../../lib/store/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { FEATURE_SETS, type DailyBar } from './feature-sets/index.js';
import { randomWalkBars } from './feature-sets/testing.js';
import { OnlineStore } from './online-store.js';
import { FeatureEngine, type IncomingBars } from './recompute.js';
import { FeatureStore, MIGRATIONS } from './store.js';
import { VectorPool } from './vector-pool.js';

const SYMBOLS = ['ALPHA', 'BETA', 'GAMMA'];
const DAYS = 320;

/** Every stored vector, as text, in (symbol, day) order. */
async function storedVectors(store: Store): Promise<string[]> {
  const rows = await store.query<{ symbol: string; day: string; close: number; values: number[] }>(
    `SELECT symbol, toString(date) AS day, close, values FROM features FINAL ORDER BY symbol, date`,
  );
  return rows.map((r) => `${r.symbol} ${r.day} ${r.close} ${r.values.join(',')}`);
}

describe('incremental recompute', () => {
  let nats: NatsTestServer;
  let dataDir: string;
  let bus: EventBus;
  const stores: Store[] = [];

  before(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-recompute-'));
    bus = await connectEvents({ servers: nats.url, name: 'recompute-test' });
    await ensureStreams(bus, { replicas: 1 });
  });

  after(async () => {
    for (const store of stores) await store.close();
    await bus?.close();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function engineOn(database: string, pool?: VectorPool): Promise<{ engine: FeatureEngine; store: Store; online: OnlineStore }> {
    const store = await openStore({ path: dataDir, database: `${database}_${process.pid}` });
    stores.push(store);
    await migrate(store, MIGRATIONS);
    const online = new OnlineStore();
    const engine = new FeatureEngine({
      store: new FeatureStore(store),
      online,
      events: bus,
      logger: createLogger('feature', 'silent'),
      sets: FEATURE_SETS,
      pool,
    });
    return { engine, store, online };
  }

  it('appending days one at a time, correcting a past day and restarting store exactly the vectors of one full recompute', async () => {
    const histories = new Map<string, DailyBar[]>(
      SYMBOLS.map((s, i) => [s, randomWalkBars(DAYS + 1, { seed: 40 + i, turnover: 'sometimes' })]),
    );
    const day = (d: number): IncomingBars[] =>
      SYMBOLS.map((symbol) => ({ symbol, bars: [histories.get(symbol)![d]], batchId: `day-${d}` }));

    const incremental = await engineOn('incremental');
    await incremental.engine.applyBatch(
      SYMBOLS.map((symbol) => ({ symbol, bars: histories.get(symbol)!.slice(0, 250), batchId: 'history' })),
    );
    for (let d = 250; d < DAYS - 10; d++) {
      const outcomes = await incremental.engine.applyBatch(day(d));
      assert.deepEqual(
        outcomes.map((o) => [o.symbol, o.vectors, o.firstDate]),
        SYMBOLS.map((s) => [s, 1, histories.get(s)![d].date]),
        'an appended day writes its own vector only',
      );
    }
    // A late correction of a past day of one symbol recomputes that symbol from the day on.
    const corrected = { ...histories.get('BETA')![120], close: histories.get('BETA')![120].close * 1.05 };
    corrected.high = Math.max(corrected.high, corrected.close);
    histories.get('BETA')![120] = corrected;
    const correction = await incremental.engine.applyBatch([{ symbol: 'BETA', bars: [corrected], batchId: 'fix' }]);
    assert.equal(correction[0].vectors, DAYS - 10 - 120);
    for (let d = DAYS - 10; d < DAYS; d++) await incremental.engine.applyBatch(day(d));
    // A restarted engine has no saved state: it reads the histories back and computes from the first bar.
    const restarted = new FeatureEngine({
      store: new FeatureStore(incremental.store),
      online: new OnlineStore(),
      events: bus,
      logger: createLogger('feature', 'silent'),
      sets: FEATURE_SETS,
    });
    await restarted.applyBatch(day(DAYS));

    const full = await engineOn('full');
    await full.engine.applyBatch(SYMBOLS.map((symbol) => ({ symbol, bars: histories.get(symbol)!, batchId: 'all' })));

    const expected = await storedVectors(full.store);
    assert.equal(expected.length, SYMBOLS.length * (DAYS + 1 - 49));
    assert.deepEqual(await storedVectors(incremental.store), expected);
  });

  it('computes on worker threads exactly the vectors, outcomes and resume states of the main thread', async () => {
    const symbols = ['ONE', 'TWO', 'THREE', 'FOUR', 'FIVE'];
    const days = 400;
    const histories = new Map<string, DailyBar[]>(
      symbols.map((s, i) => [s, randomWalkBars(days, { seed: 70 + i, turnover: i % 2 === 0 ? 'sometimes' : 'always' })]),
    );
    // Flat volume on part of one history: z-scores of 0 and windows of zero deviation.
    for (const bar of histories.get('TWO')!.slice(100, 160)) bar.volume = 1000;
    const pool = new VectorPool(2);
    try {
      const single = await engineOn('single_thread');
      const workers = await engineOn('worker_threads', pool);
      const steps: IncomingBars[][] = [
        // Whole histories (on the workers), then appended days (resumed on the main thread from the
        // workers' states), then a corrected past day (the workers again), then another day.
        symbols.map((symbol) => ({ symbol, bars: histories.get(symbol)!.slice(0, days - 3), batchId: 'history' })),
        symbols.map((symbol) => ({ symbol, bars: [histories.get(symbol)![days - 3]], batchId: 'day-1' })),
        [{ symbol: 'THREE', bars: [{ ...histories.get('THREE')![200], close: histories.get('THREE')![200].high }], batchId: 'fix' }],
        symbols.map((symbol) => ({ symbol, bars: histories.get(symbol)!.slice(days - 2), batchId: 'day-2' })),
      ];
      for (const step of steps) {
        const expected = await single.engine.applyBatch(step);
        assert.deepEqual(await workers.engine.applyBatch(step), expected);
      }
      assert.deepEqual(await storedVectors(workers.store), await storedVectors(single.store));
      assert.equal((await storedVectors(workers.store)).length, symbols.length * (days - 49));
      for (const symbol of symbols) {
        const held = workers.online.get(FEATURE_SETS[0], symbol);
        const expected = single.online.get(FEATURE_SETS[0], symbol);
        // deepStrictEqual tells -0 from 0: the values are the same bits.
        assert.deepEqual({ ...held, computedAt: undefined }, { ...expected, computedAt: undefined });
      }

      // A history the feature sets refuse is refused the same way from a worker.
      const bad = randomWalkBars(80, { seed: 3 });
      bad[60] = { ...bad[60], low: bad[60].high * 2 };
      const refused = (engine: FeatureEngine) =>
        engine.applyBatch([{ symbol: 'BAD', bars: bad, batchId: 'bad' }]).then(
          () => assert.fail('accepted'),
          (error: Error) => error,
        );
      const fromWorker = await refused(workers.engine);
      const fromMain = await refused(single.engine);
      assert.ok(fromWorker instanceof EventRejectedError);
      assert.equal(fromWorker.message, fromMain.message);
    } finally {
      await pool.close();
    }
  });
});
