import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, fromBinary } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { PredictionsMadeSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { PredictionSchema, type Prediction } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { connectEvents, EVENTS_STREAM, ensureStreams, type EventBus } from '../../lib/events/index.js';
import { startNatsServer, waitFor, type NatsTestServer } from '../../lib/events/testing.js';
import { createLogger } from '../../lib/telemetry/index.js';
import { predictionMetrics } from './metrics.js';
import { PredictionEvents } from './prediction-events.js';

const logger = createLogger('prediction-events-test', 'silent');

const prediction = (i: number): Prediction =>
  create(PredictionSchema, {
    predictionId: `p-${i}`,
    symbol: i % 2 ? 'NABIL' : 'NICA',
    featureDate: { year: 2024, month: 5, day: 2 },
    predictedReturn: 0.001 * i,
    predictedClose: 500 * Math.exp(0.001 * i),
    baseClose: 500,
    modelName: 'm',
    modelVersion: 3,
    predictedAt: timestampNow(),
  });

describe('PredictionsMade publisher', () => {
  let nats: NatsTestServer;
  let bus: EventBus;

  before(async () => {
    nats = await startNatsServer();
    bus = await connectEvents({ servers: nats.url, name: 'prediction-events-test', drainTimeoutMs: 500, logger });
    await ensureStreams(bus);
  });

  after(async () => {
    await bus?.close();
    await nats?.stop();
  });

  const stored = async () => (await bus.jsm.streams.info(EVENTS_STREAM)).state.messages;

  it('publishes every prediction to JetStream in events of at most 1,000, deduplicated on a re-send', async () => {
    const events = new PredictionEvents({
      bus,
      instanceId: 'i-0',
      queueLimit: 10_000,
      concurrency: 256,
      logger,
      metrics: predictionMetrics(),
    });
    const before = await stored();
    const features = [0.5, -0.25, 1];
    for (let i = 0; i < 2_500; i++) events.made(prediction(i), 1.5, features);
    await events.stop();
    assert.deepEqual(events.stats(), { published: 2_500, dropped: 0, queued: 0, awaiting: 0 });
    assert.equal((await stored()) - before, 3, 'one turn of 2,500 predictions: events of 1,000, 1,000 and 500');
    const last = await bus.jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: 'nepse.v1.predictions.made._' });
    const { predictions } = fromBinary(PredictionsMadeSchema, last.data);
    assert.deepEqual([predictions.length, predictions[0].predictionId, predictions.at(-1)!.predictionId], [500, 'p-2000', 'p-2499']);
    const event = predictions.at(-1)!;
    assert.deepEqual(
      [event.instanceId, event.latencyMs, event.symbol, event.modelVersion, event.features],
      ['i-0', 1.5, 'NABIL', 3, features],
    );
    assert.equal(last.header.get('Nats-Msg-Id'), 'predictions.made:p-2000');

    // The same first prediction again: JetStream drops the event as a duplicate.
    const again = new PredictionEvents({
      bus,
      instanceId: 'i-0',
      queueLimit: 10_000,
      concurrency: 256,
      logger,
      metrics: predictionMetrics(),
    });
    again.made(prediction(2000), 1.5, features);
    await again.stop();
    assert.equal(again.stats().published, 1);
    assert.equal((await stored()) - before, 3);
  });

  it('with a linger, predictions of several event-loop turns share one event', async () => {
    const events = new PredictionEvents({
      bus,
      instanceId: 'i-2',
      queueLimit: 10_000,
      concurrency: 64,
      lingerMs: 200,
      logger,
      metrics: predictionMetrics(),
    });
    const before = await stored();
    for (let i = 0; i < 5; i++) {
      events.made(prediction(20_000 + i), 1, [0]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => events.stats().published === 5, 'the five predictions to be published', { timeoutMs: 10_000 });
    assert.equal((await stored()) - before, 1, 'five turns, one event');
    await events.stop();
  });

  it('while NATS is down, queues up to its bound, drops the rest with a count, and never blocks the caller', async () => {
    const events = new PredictionEvents({
      bus,
      instanceId: 'i-1',
      queueLimit: 500,
      concurrency: 100,
      ackTimeoutMs: 300,
      logger,
      metrics: predictionMetrics(),
    });
    await nats.stop();
    const started = performance.now();
    for (let i = 0; i < 5_000; i++) events.made(prediction(10_000 + i), 1, [0]);
    const callerMs = performance.now() - started;
    assert.ok(callerMs < 200, `5,000 made() calls took ${callerMs.toFixed(1)} ms`);
    assert.equal(events.stats().dropped, 4_500, 'beyond the queue bound, dropped at once');
    // The queued 500 go out in one event per turn and fail for want of a PubAck after 300 ms.
    await waitFor(() => events.stats().dropped === 5_000, 'every event to be given up', { timeoutMs: 10_000 });
    assert.deepEqual(events.stats(), { published: 0, dropped: 5_000, queued: 0, awaiting: 0 });
    await events.stop(100);
  });
});
