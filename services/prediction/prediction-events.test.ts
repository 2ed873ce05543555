import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, fromBinary } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { PredictionMadeSchema } from '../../gen/nepse/events/v1/events_pb.js';
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

describe('PredictionMade publisher', () => {
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

  it('publishes every event to JetStream with its msgId, deduplicated on a re-send', async () => {
    const events = new PredictionEvents({ bus, instanceId: 'i-0', queueLimit: 10_000, concurrency: 256, logger, metrics: predictionMetrics() });
    const before = await stored();
    for (let i = 0; i < 2_000; i++) events.made(prediction(i), 1.5);
    events.made(prediction(7), 1.5); // the same prediction again: JetStream drops the copy
    await events.stop();
    assert.deepEqual(events.stats(), { published: 2_001, dropped: 0, queued: 0, awaiting: 0 });
    assert.equal((await stored()) - before, 2_000);
    const last = await bus.jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: 'nepse.v1.predictions.made.NABIL' });
    const event = fromBinary(PredictionMadeSchema, last.data);
    assert.equal(event.predictionId, 'p-1999');
    assert.equal(event.instanceId, 'i-0');
    assert.equal(event.latencyMs, 1.5);
    assert.equal(last.header.get('Nats-Msg-Id'), 'predictions.made:p-1999');
  });

  it('while NATS is down, queues up to its bound, drops the rest with a count, and never blocks the caller', async () => {
    const events = new PredictionEvents({ bus, instanceId: 'i-1', queueLimit: 500, concurrency: 100, ackTimeoutMs: 300, logger, metrics: predictionMetrics() });
    await nats.stop();
    const started = performance.now();
    for (let i = 0; i < 5_000; i++) events.made(prediction(10_000 + i), 1);
    const callerMs = performance.now() - started;
    assert.ok(callerMs < 200, `5,000 made() calls took ${callerMs.toFixed(1)} ms`);
    assert.equal(events.stats().dropped, 4_500, 'beyond the queue bound, dropped at once');
    // The queued 500 go out 100 at a time and fail for want of a PubAck, each batch after 300 ms.
    await waitFor(() => events.stats().dropped === 5_000, 'every event to be given up', { timeoutMs: 10_000 });
    assert.deepEqual(events.stats(), { published: 0, dropped: 5_000, queued: 0, awaiting: 0 });
    await events.stop(100);
  });
});
