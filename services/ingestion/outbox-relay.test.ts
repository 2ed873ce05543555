import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectEvents, ensureStreams, EVENTS_STREAM, type EventBus, type PublishResult } from '../../lib/events/index.js';
import { startNatsServer, type NatsTestServer } from '../../lib/events/testing.js';
import { openServiceStore, type Store } from '../../lib/store/index.js';
import { createLogger } from '../../lib/telemetry/index.js';
import type { BarRecord } from './bar.js';
import { commitBatch, type CommitDeps } from './commit-batch.js';
import { CommitGate } from './commit-gate.js';
import { ingestionConfig } from './config.js';
import { startOutboxRelay } from './outbox-relay.js';
import { BarStore, MIGRATIONS } from './store.js';

/** The service's commit path over embedded ClickHouse and a real nats-server; publishes can be held in flight. */
describe('outbox relay beside a commit whose publish is in flight', () => {
  let nats: NatsTestServer;
  let dataDir: string;
  let store: Store;
  let bus: EventBus;

  before(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-outbox-'));
    ({ store } = await openServiceStore(ingestionConfig({ DATA_DIR: dataDir, NATS_URL: nats.url }), 'ingestion', MIGRATIONS));
    bus = await connectEvents({ servers: nats.url, name: 'outbox-relay-test' });
    await ensureStreams(bus, { replicas: 1 });
  });

  after(async () => {
    await bus?.close();
    await store?.close();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The real bus, except that the first publish waits for `release()` before it goes out. */
  function holdingFirstPublish() {
    const inFlight = Promise.withResolvers<void>();
    const held = Promise.withResolvers<void>();
    const sent: string[] = [];
    const acks: PublishResult[] = [];
    const publish: EventBus['publish'] = async (event, key, message, options) => {
      sent.push(options.msgId);
      if (sent.length === 1) {
        inFlight.resolve();
        await held.promise;
      }
      const ack = await bus.publish(event, key, message, options);
      acks.push(ack);
      return ack;
    };
    const events: EventBus = Object.assign(Object.create(bus) as EventBus, { publish });
    return { events, sent, acks, inFlight: inFlight.promise, release: () => held.resolve() };
  }

  const storedEvents = async (symbol: string) => {
    const info = await bus.jsm.streams.info(EVENTS_STREAM, { subjects_filter: `nepse.v1.bars.ingested.${symbol}` });
    return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  };

  it('a relay pass while a commit is publishing sends none of its events again', async () => {
    const wire = holdingFirstPublish();
    const deps: CommitDeps = {
      bars: new BarStore(store),
      events: wire.events,
      logger: createLogger('ingestion', 'silent'),
      gate: new CommitGate(),
    };
    const bars: BarRecord[] = Array.from({ length: 20 }, (_, i) => ({
      symbol: 'INFLIGHT',
      date: new Date(Date.UTC(2023, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
      open: 10 + i,
      high: 12 + i,
      low: 9 + i,
      close: 11 + i,
      volume: 100,
    }));
    const committing = commitBatch(deps, bars, 'batch-in-flight', 'test');
    await wire.inFlight;
    // The event is in the outbox, unsent, and its publish is under way: one relay pass runs now.
    const relay = startOutboxRelay(deps, { intervalMs: 60_000 });
    await relay.stop();
    assert.equal(wire.sent.length, 1, 'the relay left the in-flight event alone');

    wire.release();
    const outcome = await committing;
    assert.equal(outcome.newBars, 20);
    // A later pass finds the event sent.
    const after = startOutboxRelay(deps, { intervalMs: 60_000 });
    await after.stop();

    assert.equal(wire.sent.length, 1, 'one publish in all');
    assert.deepEqual(
      wire.acks.map((a) => a.duplicate),
      [false],
      'JetStream never saw a duplicate',
    );
    assert.equal(await storedEvents('INFLIGHT'), 1);
    assert.deepEqual(await deps.bars.unsent(100), []);
  });

  it('the relay still re-sends an event whose publish failed', async () => {
    const failing: EventBus = Object.assign(Object.create(bus) as EventBus, {
      publish: async () => {
        throw new Error('NATS unreachable');
      },
    });
    const gate = new CommitGate();
    const bars = new BarStore(store);
    const logger = createLogger('ingestion', 'silent');
    const bar: BarRecord = { symbol: 'RETRY', date: '2023-03-01', open: 10, high: 12, low: 9, close: 11, volume: 100 };
    await commitBatch({ bars, events: failing, logger, gate }, [bar], 'batch-failed', 'test');
    assert.equal((await bars.unsent(100)).length, 1);

    const wire = holdingFirstPublish();
    wire.release();
    const relay = startOutboxRelay({ bars, events: wire.events, logger, gate }, { intervalMs: 60_000 });
    await relay.stop();
    assert.equal(wire.sent.length, 1);
    assert.equal(await storedEvents('RETRY'), 1);
    assert.deepEqual(await bars.unsent(100), []);
  });
});
