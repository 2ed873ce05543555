import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { StringValueSchema } from '@bufbuild/protobuf/wkt';
import { EVENTS_STREAM, connectEvents, defineEvent, ensureStreams, type EventBus, type EventsLogger } from '../events/index.js';
import { startNatsServer, waitFor, type NatsTestServer } from '../events/testing.js';
import { watchConsumerLag } from './consumer-lag.js';
import { parseExposition, type Exposition } from './exposition.js';
import { startTelemetryServer, type TelemetryServer } from './http.js';
import { eventMetrics } from './metrics.js';

const quiet: EventsLogger = { debug() {}, info() {}, warn() {}, error() {} };
const event = defineEvent({ name: 'test.lag', schema: StringValueSchema });

describe('consumer lag gauges', { timeout: 60_000 }, () => {
  let nats: NatsTestServer;
  let bus: EventBus;
  let http: TelemetryServer;

  /** One scrape of /metrics, parsed, with how long it took. */
  const scrape = async (): Promise<Exposition & { ms: number }> => {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${http.port}/metrics`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200);
    const parsed = parseExposition(await response.text());
    return { ...parsed, ms: performance.now() - started };
  };
  const lagOf = (scraped: Exposition, name: string, durable: string) =>
    scraped.families.get(name)?.samples.find((s) => s.labels.durable === durable && s.labels.stream === EVENTS_STREAM)?.value;

  before(async () => {
    nats = await startNatsServer();
    bus = await connectEvents({ servers: nats.url, name: 'lag-test', logger: quiet, metrics: eventMetrics() });
    await ensureStreams(bus);
    http = await startTelemetryServer({ port: 0, host: '127.0.0.1', isReady: () => true });
  });

  after(async () => {
    await http?.close();
    await bus?.close();
    await nats?.stop();
  });

  it('reports pending and ack-pending messages of a running durable consumer at scrape time, and drops it once stopped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sub = await bus.consume(event, { durable: 'lag-slow', concurrency: 1, ackWaitMs: 30_000 }, async () => {
      await gate;
    });
    try {
      const idle = await scrape();
      assert.equal(lagOf(idle, 'nepse_events_consumer_pending', 'lag-slow'), 0);
      assert.equal(lagOf(idle, 'nepse_events_consumer_ack_pending', 'lag-slow'), 0);
      for (let i = 0; i < 5; i++) await bus.publish(event, 'NABIL', create(StringValueSchema, { value: `m${i}` }), { msgId: `lag-${i}` });
      // One message is held by the blocked handler, four wait in the stream.
      const behind = await waitFor(async () => {
        const scraped = await scrape();
        return lagOf(scraped, 'nepse_events_consumer_pending', 'lag-slow') === 4 ? scraped : undefined;
      }, 'four messages pending');
      assert.equal(lagOf(behind, 'nepse_events_consumer_ack_pending', 'lag-slow'), 1);
      assert.equal(behind.families.get('nepse_events_consumer_pending')?.type, 'gauge');
      release();
      await waitFor(async () => {
        const scraped = await scrape();
        return (
          lagOf(scraped, 'nepse_events_consumer_pending', 'lag-slow') === 0 &&
          lagOf(scraped, 'nepse_events_consumer_ack_pending', 'lag-slow') === 0
        );
      }, 'the consumer to catch up');
    } finally {
      release();
      await sub.stop();
    }
    const stopped = await scrape();
    assert.equal(lagOf(stopped, 'nepse_events_consumer_pending', 'lag-slow'), undefined, 'a stopped consumer has no series');
    assert.ok(stopped.families.has('nepse_events_consumer_pending'), 'the family stays listed');
  });

  it('bounds a scrape when the lag request hangs: the series is left out and the failure counted', async () => {
    const sub = await bus.consume(event, { durable: 'lag-fine' }, async () => {});
    // A new durable starts with the stream's earlier messages to handle.
    await waitFor(async () => lagOf(await scrape(), 'nepse_events_consumer_pending', 'lag-fine') === 0, 'lag-fine to catch up');
    const unwatch = watchConsumerLag({ stream: EVENTS_STREAM, durable: 'lag-hung', lag: () => new Promise(() => {}), timeoutMs: 200 });
    try {
      const scraped = await scrape();
      assert.ok(scraped.ms < 2_000, `scrape took ${scraped.ms} ms`);
      assert.equal(lagOf(scraped, 'nepse_events_consumer_pending', 'lag-hung'), undefined);
      assert.equal(lagOf(scraped, 'nepse_events_consumer_pending', 'lag-fine'), 0, 'the other consumers are still reported');
      assert.equal(lagOf(scraped, 'nepse_events_consumer_lag_failures_total', 'lag-hung'), 1, 'both gauges share one request per scrape');
    } finally {
      unwatch();
      await sub.stop();
    }
    assert.equal(
      lagOf(await scrape(), 'nepse_events_consumer_lag_failures_total', 'lag-hung'),
      1,
      'an unwatched consumer is not asked again',
    );
  });

  it('keeps scraping within the timeout while NATS is down', async () => {
    const sub = await bus.consume(event, { durable: 'lag-down' }, async () => {});
    try {
      await waitFor(async () => lagOf(await scrape(), 'nepse_events_consumer_pending', 'lag-down') === 0, 'lag-down to catch up');
      await nats.stop();
      const down = await scrape();
      assert.ok(down.ms < 3_000, `scrape took ${down.ms} ms`);
      assert.equal(lagOf(down, 'nepse_events_consumer_pending', 'lag-down'), undefined);
      assert.ok((lagOf(down, 'nepse_events_consumer_lag_failures_total', 'lag-down') ?? 0) >= 1);
      assert.ok(
        down.families.has('process_cpu_seconds_total') || down.families.has('nepse_events_consumer_pending'),
        'the rest of the scrape is served',
      );
    } finally {
      await Promise.race([sub.stop(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
    }
  });
});
