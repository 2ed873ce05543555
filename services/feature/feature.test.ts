import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { BarsIngestedSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import type { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { EventBus } from '../../lib/events/index.js';
import { waitFor } from '../../lib/events/testing.js';
import { createGrpcClient, statusDetails, type ServiceClient } from '../../lib/grpc/index.js';
import { barMessage, dayOf, toProtoDate } from '../../lib/market/index.js';
import { TestNetwork } from '../../testing/network.js';
import { DEFAULT_FEATURE_SET, type DailyBar } from './feature-sets/index.js';

/** A deterministic random walk of daily bars on weekdays from 2023-01-02. */
function series(days: number, seed: number, start = 100): DailyBar[] {
  let state = seed;
  const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const bars: DailyBar[] = [];
  let close = start;
  for (let t = Date.UTC(2023, 0, 2); bars.length < days; t += 86_400_000) {
    if (new Date(t).getUTCDay() === 6) continue; // NEPSE is closed on Saturdays
    const open = close;
    close = Math.max(1, close * Math.exp((random() - 0.5) * 0.04));
    const high = Math.max(open, close) * (1 + random() * 0.01);
    const low = Math.min(open, close) * (1 - random() * 0.01);
    const volume = Math.round(1000 + random() * 5000);
    bars.push({ date: new Date(t).toISOString().slice(0, 10), open, high, low, close, volume, turnover: volume * close });
  }
  return bars;
}

describe('feature service, fed by the ingestion service over NATS', () => {
  let network: TestNetwork;
  let ingest: ServiceClient<typeof IngestionService>;
  let features: ServiceClient<typeof FeatureService>;
  let bus: EventBus;
  const nabil = series(120, 7, 500);
  const nica = series(90, 11, 800);

  const startFeatureService = async () => {
    await network.service('feature').start();
    features = createGrpcClient(FeatureService, network.address('feature'));
  };
  const latestDate = async (symbol: string) => {
    try {
      return dayOf((await features.getFeatures({ symbol })).vector?.date);
    } catch {
      return '';
    }
  };
  const vectorOn = async (symbol: string, date: string) => (await features.getFeatures({ symbol, asOf: toProtoDate(date) })).vector!;

  before(async () => {
    network = await TestNetwork.create({ services: ['ingestion', 'feature'], feature: { deferred: true } });
    ingest = network.client('ingestion');
    await startFeatureService();
    bus = network.bus;
    await ingest.ingestBars([{ bars: nabil.map((b) => barMessage('NABIL', b)) }, { bars: nica.map((b) => barMessage('NICA', b)) }]);
    await waitFor(
      async () => (await latestDate('NABIL')) === nabil.at(-1)!.date && (await latestDate('NICA')) === nica.at(-1)!.date,
      'vectors of both symbols',
      { timeoutMs: 30_000 },
    );
  });

  after(async () => {
    features?.close();
    await network?.close();
  });

  it('serves the latest vector from memory and any day from the offline store, as the feature set computes them', async () => {
    const expected = DEFAULT_FEATURE_SET.compute(nabil);
    const { vector } = await features.getFeatures({ symbol: 'nabil' });
    assert.equal(dayOf(vector?.date), expected.at(-1)!.date);
    assert.deepEqual(
      vector?.names,
      DEFAULT_FEATURE_SET.features.map((f) => f.name),
    );
    assert.deepEqual(vector?.featureSet, {
      $typeName: 'nepse.market.v1.FeatureSetRef',
      name: DEFAULT_FEATURE_SET.name,
      version: DEFAULT_FEATURE_SET.version,
    });
    assert.deepEqual(vector?.values, expected.at(-1)!.values);
    const middle = expected[30];
    assert.deepEqual((await vectorOn('NABIL', middle.date)).values, middle.values);
    assert.equal(expected[0].date, nabil[DEFAULT_FEATURE_SET.warmUpDays - 1].date, 'the first vector needs the whole warm-up');
  });

  it('answers NOT_FOUND and INVALID_ARGUMENT naming the field', async () => {
    const code = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (error) {
        const details = statusDetails(error);
        return [details?.code, details?.fieldViolations[0]?.field ?? details?.resource?.type];
      }
      return ['no error'];
    };
    assert.deepEqual(await code(features.getFeatures({ symbol: 'UNKNOWN' })), [5, 'feature vector']);
    assert.deepEqual(await code(features.getFeatures({ symbol: 'NABIL', asOf: toProtoDate(nabil[3].date) })), [5, 'feature vector']);
    assert.deepEqual(await code(features.getFeatures({ symbol: 'bad symbol' })), [3, 'symbol']);
    assert.deepEqual(await code(features.getFeatures({ symbol: 'NABIL', asOf: { year: 2024, month: 2, day: 30 } })), [3, 'as_of']);
    assert.deepEqual(await code(features.getFeatures({ symbol: 'NABIL', featureSet: { name: 'nope', version: 9 } })), [5, 'feature set']);
    assert.deepEqual(await code(features.batchGetFeatures({ symbols: [] })), [3, 'symbols']);
    assert.deepEqual(await code(features.batchGetFeatures({ symbols: ['NABIL', 'x y'] })), [3, 'symbols[1]']);
  });

  it('a malformed feature set or an impossible day is INVALID_ARGUMENT naming the field, on every read', async () => {
    const refusal = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (error) {
        const details = statusDetails(error);
        return [details?.code, details?.fieldViolations.map((v) => v.field).join()];
      }
      return ['no error'];
    };
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const bad = [
      [{ featureSet: { version: -1 } }, 'feature_set.version'],
      [{ featureSet: { name: 'ohlcv', version: -2_147_483_648 } }, 'feature_set.version'],
      [{ featureSet: { name: 'OHLCV v1!' } }, 'feature_set.name'],
      [{ asOf: toProtoDate(tomorrow) }, 'as_of'],
      [{ asOf: { year: 1950, month: 1, day: 2 } }, 'as_of'],
    ] as const;
    for (const [fields, field] of bad) {
      assert.deepEqual(
        await refusal(features.getFeatures({ symbol: 'NABIL', ...fields })),
        [3, field],
        `GetFeatures ${JSON.stringify(fields)}`,
      );
      assert.deepEqual(
        await refusal(features.batchGetFeatures({ symbols: ['NABIL'], ...fields })),
        [3, field],
        `BatchGetFeatures ${JSON.stringify(fields)}`,
      );
    }
    assert.deepEqual(await refusal(Array.fromAsync(features.getTrainingSet({ symbols: ['NABIL'], featureSet: { version: -1 } }))), [
      3,
      'feature_set.version',
    ]);
    assert.deepEqual(
      await refusal(
        Array.fromAsync(features.getTrainingSet({ range: { start: toProtoDate(nabil[9].date), end: toProtoDate(nabil[3].date) } })),
      ),
      [3, 'range.end'],
    );
    assert.deepEqual(await refusal(features.listFeatureSets({ pageSize: -1 })), [3, 'page_size']);
    // Well formed but not computed here: NOT_FOUND, as before.
    assert.deepEqual(await refusal(features.getFeatures({ symbol: 'NABIL', featureSet: { name: 'ohlcv', version: 99 } })), [5, '']);
    assert.equal(
      (await features.listFeatureSets({ pageSize: 2_147_483_647 })).featureSets.length >= 1,
      true,
      'a page size above the cap is capped',
    );
  });

  it('BatchGetFeatures fails only the missing entries', async () => {
    const { results } = await features.batchGetFeatures({ symbols: ['NABIL', 'MISSING', 'NICA'] });
    assert.deepEqual(
      results.map((r) => [r.symbol, r.outcome.case]),
      [
        ['NABIL', 'vector'],
        ['MISSING', 'error'],
        ['NICA', 'vector'],
      ],
    );
    assert.equal(results[1].outcome.case === 'error' && results[1].outcome.value.code, 5);
  });

  it('lists the feature set with names, order, warm-ups and version', async () => {
    const { featureSets } = await features.listFeatureSets({});
    const set = featureSets.find((s) => s.ref?.name === DEFAULT_FEATURE_SET.name);
    assert.equal(set?.ref?.version, DEFAULT_FEATURE_SET.version);
    assert.deepEqual(
      set?.features.map((f) => f.name),
      DEFAULT_FEATURE_SET.features.map((f) => f.name),
    );
    assert.equal(set?.warmUpDays, DEFAULT_FEATURE_SET.warmUpDays);
  });

  it('streams point-in-time training rows labelled with the next trading day', async () => {
    const responses = await Array.fromAsync(features.getTrainingSet({ symbols: ['NICA', 'NABIL'] }));
    assert.deepEqual(
      responses[0].featureSet?.features.map((f) => f.name),
      DEFAULT_FEATURE_SET.features.map((f) => f.name),
    );
    const rows = responses.flatMap((r) => r.rows);
    const symbolsInOrder = [...new Set(rows.map((r) => r.symbol))];
    assert.deepEqual(symbolsInOrder, ['NABIL', 'NICA']);
    for (const [symbol, bars] of [
      ['NABIL', nabil],
      ['NICA', nica],
    ] as const) {
      const mine = rows.filter((r) => r.symbol === symbol);
      // Every day with a vector and a next day, and not the last day (its label is unknown).
      assert.equal(mine.length, bars.length - DEFAULT_FEATURE_SET.warmUpDays);
      for (const row of mine) {
        const t = bars.findIndex((b) => b.date === dayOf(row.date));
        assert.equal(dayOf(row.labelDate), bars[t + 1].date);
        assert.equal(row.labelReturn, Math.log(bars[t + 1].close / bars[t].close));
        assert.equal(row.labelClose, bars[t + 1].close);
        // Point in time: the features of day t are what the bars up to t alone give.
        assert.deepEqual(row.features, DEFAULT_FEATURE_SET.compute(bars.slice(0, t + 1)).at(-1)!.values);
      }
    }
    const ranged = (
      await Array.fromAsync(
        features.getTrainingSet({ symbols: ['NABIL'], range: { start: toProtoDate(nabil[60].date), end: toProtoDate(nabil[69].date) } }),
      )
    ).flatMap((r) => r.rows);
    assert.deepEqual(
      ranged.map((r) => dayOf(r.date)),
      nabil.slice(60, 70).map((b) => b.date),
    );
  });

  it('a late, corrected bar recomputes every later vector and leaves earlier ones alone', async () => {
    const t = 80;
    const before = await Promise.all(
      nabil.map((b, i) => (i >= DEFAULT_FEATURE_SET.warmUpDays - 1 ? vectorOn('NABIL', b.date) : undefined)),
    );
    const corrected = { ...nabil[t], close: nabil[t].close * 1.05, high: Math.max(nabil[t].high, nabil[t].close * 1.05) };
    await ingest.ingestBars([{ bars: [barMessage('NABIL', corrected)] }]);
    const history = nabil.map((b, i) => (i === t ? corrected : b));
    const expected = DEFAULT_FEATURE_SET.compute(history);
    await waitFor(async () => (await vectorOn('NABIL', nabil[t].date)).close === corrected.close, 'the recomputation', {
      timeoutMs: 20_000,
    });
    for (const row of expected) {
      const i = nabil.findIndex((b) => b.date === row.date);
      const now = await vectorOn('NABIL', row.date);
      if (i < t) assert.deepEqual(now.values, before[i]!.values, `vector of ${row.date} must not change`);
      else assert.deepEqual(now.values, row.values, `vector of ${row.date} must be recomputed`);
    }
    assert.deepEqual((await features.getFeatures({ symbol: 'NABIL' })).vector?.values, expected.at(-1)!.values);
    nabil[t] = corrected;
  });

  it('a duplicate event changes nothing', async () => {
    const last = await features.getFeatures({ symbol: 'NICA' });
    const event = create(BarsIngestedSchema, {
      symbol: 'NICA',
      bars: nica.slice(-5).map((b) => barMessage('NICA', b)),
      batchId: 'replayed',
      part: 1,
      partCount: 1,
    });
    await bus.publish(MeshEvents.barsIngested, 'NICA', event, { msgId: 'replay-1' });
    await bus.publish(MeshEvents.barsIngested, 'NICA', event, { msgId: 'replay-2' });
    await waitFor(async () => (await bus.consumerLag('feature-bars')).total === 0, 'the consumer to catch up', { timeoutMs: 20_000 });
    const again = await features.getFeatures({ symbol: 'NICA' });
    assert.deepEqual(again.vector?.values, last.vector?.values);
    assert.equal(dayOf(again.vector?.date), dayOf(last.vector?.date));
    const rows = (await Array.fromAsync(features.getTrainingSet({ symbols: ['NICA'] }))).flatMap((r) => r.rows);
    assert.equal(rows.length, nica.length - DEFAULT_FEATURE_SET.warmUpDays, 'no duplicated rows');
  });

  it('after a restart serves the latest vectors at once and keeps consuming', async () => {
    const before = await features.getFeatures({ symbol: 'NABIL' });
    features.close();
    await network.service('feature').stop();
    await startFeatureService();
    const warmed = await features.getFeatures({ symbol: 'NABIL' });
    assert.deepEqual(warmed.vector?.values, before.vector?.values);
    const next = series(121, 7, 500).at(-1)!;
    const nextBar = { ...next, date: '2023-06-30' };
    await ingest.ingestBars([{ bars: [barMessage('NABIL', nextBar)] }]);
    await waitFor(async () => (await latestDate('NABIL')) === '2023-06-30', 'the new bar after the restart', { timeoutMs: 20_000 });
    assert.deepEqual(
      (await features.getFeatures({ symbol: 'NABIL' })).vector?.values,
      DEFAULT_FEATURE_SET.compute([...nabil, nextBar]).at(-1)!.values,
    );
  });
});
