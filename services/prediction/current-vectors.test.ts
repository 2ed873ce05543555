import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { BarsIngestedSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { DegradedReason, type Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { dayOf, nextTradingDay, toProtoDate } from '../../lib/market/index.js';
import { startPredictionBed, type PredictionBed } from '../../testing/prediction-bed.js';

const SYMBOLS = ['NABIL', 'NICA', 'SCB'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Predicts `symbol` until `accept` holds, for at most 60 s. */
async function predictUntil(bed: PredictionBed, symbol: string, accept: (p: Prediction) => boolean, what: string): Promise<Prediction> {
  const deadline = Date.now() + 60_000;
  let last: Prediction | undefined;
  while (Date.now() < deadline) {
    last = (await bed.client.predict({ symbol }, { timeoutMs: 10_000 })).prediction!;
    if (accept(last)) return last;
    await sleep(50);
  }
  assert.fail(`${what}: last answer ${JSON.stringify({ date: dayOf(last?.featureDate), degraded: last?.degraded })}`);
}

describe('prediction service: Predict from the vectors FeaturesComputed announced', () => {
  let bed: PredictionBed;

  before(async () => {
    // A short answer window, so that only announced vectors can explain live answers below.
    bed = await startPredictionBed({ symbols: SYMBOLS, env: { PREDICTION_FEATURE_FRESH_MS: '50' } });
  });

  after(async () => {
    await bed?.stop();
  });

  it('answers live without the feature service while no newer bar is seen; a symbol with a newer bar is degraded until its features come', async () => {
    const latest = (symbol: string) => bed.bars.get(symbol)!.at(-1)!.date;
    for (const symbol of SYMBOLS)
      await predictUntil(bed, symbol, (p) => dayOf(p.featureDate) === latest(symbol) && !p.degraded, `${symbol} live`);

    await bed.stopFeature();
    await sleep(300);
    for (const symbol of SYMBOLS) {
      const { prediction } = await bed.client.predict({ symbol }, { timeoutMs: 10_000 });
      assert.equal(prediction!.degraded, false, `${symbol}: served from its announced vector, no feature call needed`);
      assert.equal(dayOf(prediction!.featureDate), latest(symbol));
    }

    // A new day's bar of NABIL while the feature service is away: its vector is now behind the bars.
    const last = bed.bars.get('NABIL')!.at(-1)!;
    const bar = {
      date: nextTradingDay(last.date),
      open: last.close,
      high: last.close * 1.02,
      low: last.close * 0.99,
      close: last.close * 1.01,
      volume: 5_000,
      turnover: last.close * 5_050,
    };
    await bed.bus.publish(
      MeshEvents.barsIngested,
      'NABIL',
      create(BarsIngestedSchema, {
        symbol: 'NABIL',
        bars: [{ symbol: 'NABIL', ...bar, date: toProtoDate(bar.date) }],
        batchId: 'current-1',
        part: 1,
        partCount: 1,
        barsNew: 1n,
      }),
      { msgId: 'bars.ingested:NABIL:current-1:1' },
    );
    const stale = await predictUntil(bed, 'NABIL', (p) => p.degraded, 'NABIL degraded once its newer bar is seen');
    assert.equal(dayOf(stale.featureDate), last.date, 'the answer says the date of the vector it used');
    assert.notEqual(stale.degradedReason, DegradedReason.UNSPECIFIED);
    const other = (await bed.client.predict({ symbol: 'NICA' }, { timeoutMs: 10_000 })).prediction!;
    assert.equal(other.degraded, false, 'other symbols stay live');

    await bed.startFeature();
    bed.bars.get('NABIL')!.push(bar);
    const fresh = await predictUntil(
      bed,
      'NABIL',
      (p) => !p.degraded && dayOf(p.featureDate) === bar.date,
      'NABIL live on the new day once its features are computed',
    );
    assert.equal(fresh.baseClose, bar.close);
  });
});
