/**
 * PredictionsMade are consumed in batches: one INSERT per table and one scoring pass per batch,
 * acked only after all of them. A batch that failed halfway, or that comes again because its acks
 * were lost, must leave every prediction scored exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { PredictionsMadeSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { connectEvents, ensureStreams, NO_KEY, type EventBus, type EventSubscription } from '../../lib/events/index.js';
import { startNatsServer, waitFor, type NatsTestServer } from '../../lib/events/testing.js';
import { toProtoDate } from '../../lib/market/index.js';
import { openServiceStore, type Store } from '../../lib/store/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { PREDICTIONS_DURABLE, startConsumers } from './consumers.js';
import { ModelsSeen } from './models-seen.js';
import { Scorer, scoredCounter } from './scorer.js';
import { MIGRATIONS, MonitoringStore } from './store.js';

const MODEL = 'batched';
const DAYS = ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05'];

/** The real store, made to fail its first score write: the predictions of that batch are stored by then. */
class ScoresFailOnce extends MonitoringStore {
  scoreWrites = 0;
  override async insertScores(...args: Parameters<MonitoringStore['insertScores']>): Promise<void> {
    if (this.scoreWrites++ === 0) throw new Error('the store went away after the predictions were written');
    return super.insertScores(...args);
  }
}

async function scoredSoFar(): Promise<number> {
  return (await scoredCounter().get()).values.find((v) => v.labels.model === MODEL)?.value ?? 0;
}

describe('monitoring: PredictionsMade in batches', { timeout: 120_000 }, () => {
  let nats: NatsTestServer;
  let dataDir: string;
  let raw: Store;
  let store: ScoresFailOnce;
  let bus: EventBus;
  let consumers: EventSubscription[] = [];
  /** Batches handled to the end (onData is called last). */
  let handled = 0;
  const start = () =>
    startConsumers({
      events: bus,
      store,
      scorer: new Scorer(store),
      models: new ModelsSeen(),
      logger: createLogger('monitoring', 'silent'),
      onData: () => handled++,
      concurrency: 1,
    });
  const count = async (sql: string) => Number((await raw.query<{ n: number }>(sql))[0].n);
  const settled = async () => (await bus.consumerLag(PREDICTIONS_DURABLE)).total === 0;

  before(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-monitoring-batches-'));
    ({ store: raw } = await openServiceStore({ DATA_DIR: dataDir }, 'monitoring', MIGRATIONS));
    store = new ScoresFailOnce(raw);
    bus = await connectEvents({ servers: nats.url, name: 'monitoring-batches-test', logger: createLogger('monitoring', 'silent') });
    await ensureStreams(bus);
    // The bars are known: each prediction of 1-4 January is scorable against the next day's close.
    await store.insertActuals(
      'NABIL',
      DAYS.map((date, i) => ({ date, close: 100 + i })),
      new Date(),
    );
    // Published before the consumer starts, so they arrive together as one batch.
    for (const [i, day] of DAYS.slice(0, 4).entries()) {
      const event = create(PredictionsMadeSchema, {
        predictions: [
          {
            predictionId: `p-${day}`,
            modelName: MODEL,
            modelVersion: 1,
            symbol: 'NABIL',
            featureDate: toProtoDate(day),
            predictedReturn: 0.01,
            predictedClose: (100 + i) * Math.exp(0.01),
            baseClose: 100 + i,
            latencyMs: 2,
            instanceId: 'test',
            occurredAt: timestampFromMs(Date.now()),
            features: [0.5, 1.5],
          },
        ],
      });
      await bus.publish(MeshEvents.predictionsMade, NO_KEY, event, { msgId: `predictions.made:p-${day}` });
    }
  });

  after(async () => {
    for (const c of consumers) await c.stop();
    await bus?.close();
    await raw?.close();
    await nats?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('scores every prediction of a batch that failed after writing them, once it comes back', async () => {
    const before = await scoredSoFar();
    consumers = await start();
    await waitFor(
      async () => (await settled()) && (await scoredSoFar()) - before === 4,
      'the four predictions to be scored after the retry',
      { timeoutMs: 60_000 },
    );
    assert.ok(store.scoreWrites >= 2, 'the first score write failed and was retried');
    assert.equal((await scoredSoFar()) - before, 4, 'each prediction counted as scored once');
    assert.equal(await count(`SELECT count() AS n FROM scores FINAL WHERE model_name = '${MODEL}'`), 4);
    assert.equal(await count(`SELECT count() AS n FROM predictions FINAL WHERE model_name = '${MODEL}'`), 4);
  });

  it('counts nothing twice when the whole batch is delivered again, as after acks lost in a crash', async () => {
    const scored = await scoredSoFar();
    const writes = store.scoreWrites;
    const handledBefore = handled;
    // A restarted service (no memory of what it stored) on a durable that starts over: every
    // PredictionsMade comes again, in one batch.
    for (const c of consumers) await c.stop();
    consumers = [];
    await bus.jsm.consumers.delete('NEPSE_EVENTS', PREDICTIONS_DURABLE);
    consumers = await start();
    await waitFor(async () => handled > handledBefore && (await settled()), 'the batch to be handled and acked again', {
      timeoutMs: 60_000,
    });
    assert.equal(await scoredSoFar(), scored, 'no prediction scored a second time');
    assert.equal(store.scoreWrites, writes, 'unchanged scores are not rewritten');
    assert.equal(await count(`SELECT count() AS n FROM scores FINAL WHERE model_name = '${MODEL}'`), 4);
    assert.equal(await count(`SELECT count() AS n FROM predictions FINAL WHERE model_name = '${MODEL}'`), 4);
    // One latency row per event, whichever batch it came in.
    assert.equal(await count(`SELECT count() AS n FROM latency_samples FINAL WHERE model_name = '${MODEL}'`), 4);
  });
});
