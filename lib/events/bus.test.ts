import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { StringValueSchema, type StringValue } from '@bufbuild/protobuf/wkt';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { TraceFlags, context, propagation, trace } from '@opentelemetry/api';
import { connectEvents, type EventBus } from './bus.js';
import type { Delivery } from './consumer.js';
import { EventConfigError, EventKeyError, EventPublishError } from './errors.js';
import { defineEvent } from './event-type.js';
import { EventHeaders } from './headers.js';
import type { EventsLogger } from './observe.js';
import { DEAD_LETTER_STREAM, EVENTS_STREAM, ensureStreams } from './streams.js';
import { startNatsServer, waitFor, type NatsTestServer } from './testing.js';

const quiet: EventsLogger = { debug() {}, info() {}, warn() {}, error() {} };
const text = (value: string): StringValue => create(StringValueSchema, { value });

describe('event bus', { timeout: 60_000 }, () => {
  let server: NatsTestServer;
  let bus: EventBus;

  before(async () => {
    server = await startNatsServer();
    bus = await connectEvents({ servers: server.url, name: 'bus-test', logger: quiet });
  });

  after(async () => {
    await bus?.close();
    await server?.stop();
  });

  it('declares streams idempotently and updates changed limits', async () => {
    const first = await ensureStreams(bus, { maxAgeMs: 3_600_000 });
    assert.deepEqual(
      first.map((s) => [s.name, s.action]),
      [
        [EVENTS_STREAM, 'created'],
        [DEAD_LETTER_STREAM, 'created'],
      ],
    );
    const again = await ensureStreams(bus, { maxAgeMs: 3_600_000 });
    assert.deepEqual(
      again.map((s) => s.action),
      ['unchanged', 'unchanged'],
    );
    const changed = await ensureStreams(bus); // back to the defaults: 7 days
    assert.deepEqual(
      changed.map((s) => s.action),
      ['updated', 'unchanged'],
    );
    const info = await bus.jsm.streams.info(EVENTS_STREAM);
    assert.deepEqual(info.config.subjects, ['nepse.v1.>']);
    assert.equal(info.config.storage, 'file');
    assert.equal(info.config.duplicate_window, 120_000_000_000);
    assert.equal(info.config.max_age, 7 * 24 * 3600 * 1e9);
    assert.equal(info.config.num_replicas, 1);
  });

  it('round-trips a typed payload and delivers only the filtered key', async () => {
    const event = defineEvent({ name: 'test.roundtrip', schema: StringValueSchema });
    const seen: Array<{ value: string; delivery: Delivery }> = [];
    const sub = await bus.consume(event, { durable: 'roundtrip', keys: ['nabil'] }, async (message, delivery) => {
      seen.push({ value: message.value, delivery });
    });
    try {
      const a = await bus.publish(event, ' nabil', text('a'), { msgId: 'rt-a', headers: { 'X-Request-Id': 'r1' } });
      assert.deepEqual(a, { subject: 'nepse.v1.test.roundtrip.NABIL', seq: a.seq, duplicate: false });
      await bus.publish(event, 'NICA', text('b'), { msgId: 'rt-b' });
      await bus.publish(event, 'NABIL', text('c'), { msgId: 'rt-c' });
      await waitFor(() => seen.length >= 2, 'two NABIL messages');
      assert.deepEqual(
        seen.map((s) => s.value),
        ['a', 'c'],
      ); // NICA (published between) never came
      const d = seen[0]!.delivery;
      assert.equal(d.key, 'NABIL');
      assert.equal(d.subject, 'nepse.v1.test.roundtrip.NABIL');
      assert.equal(d.event, 'test.roundtrip');
      assert.equal(d.durable, 'roundtrip');
      assert.equal(d.deliveryCount, 1);
      assert.equal(d.msgId, 'rt-a');
      assert.equal(d.seq, a.seq);
      assert.equal(d.headers['Content-Type'], 'application/protobuf');
      assert.equal(d.headers['Nepse-Event'], 'test.roundtrip');
      assert.equal(d.headers['X-Request-Id'], 'r1');
      assert.ok(Math.abs(d.publishedAt.getTime() - Date.now()) < 60_000);
      await waitFor(async () => (await bus.consumerLag('roundtrip')).total === 0, 'lag 0');
    } finally {
      await sub.stop();
    }
  });

  it('filters several keys (in the client on servers before 2.10)', async () => {
    const event = defineEvent({ name: 'test.multikey', schema: StringValueSchema });
    const seen: string[] = [];
    const sub = await bus.consume(event, { durable: 'multikey', keys: ['A', 'B'] }, async (m, d) => {
      seen.push(`${d.key}:${m.value}`);
    });
    try {
      for (const [key, value] of [
        ['A', '1'],
        ['C', '2'],
        ['B', '3'],
        ['_', '4'],
        ['A', '5'],
      ] as const) {
        await bus.publish(event, key, text(value), { msgId: `mk-${value}` });
      }
      await waitFor(() => seen.length >= 3, 'three A/B messages');
      await waitFor(async () => (await bus.consumerLag('multikey')).total === 0, 'lag 0');
      assert.deepEqual(seen, ['A:1', 'B:3', 'A:5']);
    } finally {
      await sub.stop();
    }
  });

  it('deduplicates a re-send with the same msgId', async () => {
    const event = defineEvent({ name: 'test.dedupe', schema: StringValueSchema });
    const first = await bus.publish(event, 'NABIL', text('once'), { msgId: 'dedupe-1' });
    const second = await bus.publish(event, 'NABIL', text('once'), { msgId: 'dedupe-1' });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);
    await bus.publish(event, 'NABIL', text('sentinel'), { msgId: 'dedupe-2' });
    const seen: string[] = [];
    const sub = await bus.consume(event, { durable: 'dedupe' }, async (m) => {
      seen.push(m.value);
    });
    try {
      await waitFor(() => seen.includes('sentinel'), 'the sentinel');
      assert.deepEqual(seen, ['once', 'sentinel']);
    } finally {
      await sub.stop();
    }
  });

  it('validates keys and msgIds before sending', async () => {
    const event = defineEvent({ name: 'test.invalid', schema: StringValueSchema });
    await assert.rejects(bus.publish(event, 'BRK.B', text('x'), { msgId: 'k' }), EventKeyError);
    await assert.rejects(bus.publish(event, 'A', text('x'), { msgId: '' }), EventPublishError);
  });

  it('runs up to `concurrency` handlers at once and stop() waits for them', async () => {
    const event = defineEvent({ name: 'test.parallel', schema: StringValueSchema });
    let running = 0;
    let peak = 0;
    const started: string[] = [];
    const finished: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sub = await bus.consume(event, { durable: 'parallel', concurrency: 3, ackWaitMs: 1_000 }, async (m) => {
      started.push(m.value);
      peak = Math.max(peak, ++running);
      await gate;
      running--;
      finished.push(m.value);
    });
    for (let i = 1; i <= 6; i++) await bus.publish(event, 'NABIL', text(`m${i}`), { msgId: `par-${i}` });
    await waitFor(() => started.length === 3, 'three handlers running');
    let stopped = false;
    const stopping = sub.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(stopped, false, 'stop() waits for in-flight handlers');
    release();
    await stopping;
    assert.equal(peak, 3);
    assert.deepEqual(finished.sort(), [...started].sort());
    // Delivered-but-unstarted messages were left unacknowledged: after ackWait a restarted
    // consumer gets exactly the rest.
    const rest: string[] = [];
    const again = await bus.consume(event, { durable: 'parallel', concurrency: 3, ackWaitMs: 1_000 }, async (m) => {
      rest.push(m.value);
    });
    try {
      await waitFor(async () => rest.length >= 3 && (await bus.consumerLag('parallel')).total === 0, 'the remaining messages');
      assert.deepEqual([...started, ...rest].sort(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    } finally {
      await again.stop();
    }
  });

  it('recreates a durable consumer deleted underneath it', async () => {
    const event = defineEvent({ name: 'test.deleted', schema: StringValueSchema });
    const seen: string[] = [];
    // Short pulls: when the delete races a pull request, only missed heartbeats reveal it.
    const sub = await bus.consume(event, { durable: 'deleted', pullExpiresMs: 1_000 }, async (m) => {
      seen.push(m.value);
    });
    try {
      await bus.publish(event, 'NABIL', text('one'), { msgId: 'del-1' });
      await waitFor(() => seen.includes('one'), 'first message');
      await bus.jsm.consumers.delete(EVENTS_STREAM, 'deleted');
      await bus.publish(event, 'NABIL', text('two'), { msgId: 'del-2' });
      await waitFor(() => seen.includes('two'), 'message after the durable was deleted', { timeoutMs: 15_000 });
      assert.equal((await bus.jsm.consumers.info(EVENTS_STREAM, 'deleted')).config.durable_name, 'deleted');
    } finally {
      await sub.stop();
    }
  });

  it('refuses to consume before the streams exist', async () => {
    const bare = await startNatsServer();
    const other = await connectEvents({ servers: bare.url, name: 'bare', logger: quiet });
    try {
      const event = defineEvent({ name: 'test.nostream', schema: StringValueSchema });
      await assert.rejects(
        other.consume(event, { durable: 'x' }, async () => {}),
        EventConfigError,
      );
      await assert.rejects(other.publish(event, 'A', text('x'), { msgId: 'x' }), EventPublishError);
    } finally {
      await other.close();
      await bare.stop();
    }
  });

  it('carries W3C trace context from publisher to handler', async () => {
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const event = defineEvent({ name: 'test.trace', schema: StringValueSchema });
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const span = trace.wrapSpanContext({ traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED });
      await context.with(trace.setSpan(context.active(), span), () => bus.publish(event, '_', text('traced'), { msgId: 'trace-1' }));
      const seen: Array<{ traceId: string | undefined; traceparent: string | undefined }> = [];
      const sub = await bus.consume(event, { durable: 'trace' }, async (_m, d) => {
        seen.push({ traceId: trace.getSpanContext(context.active())?.traceId, traceparent: d.headers.traceparent });
      });
      try {
        await waitFor(() => seen.length === 1, 'the traced message');
        assert.equal(seen[0]!.traceId, traceId);
        assert.match(seen[0]!.traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      } finally {
        await sub.stop();
      }
    } finally {
      propagation.disable();
      context.disable();
    }
  });
});

describe('event bus when the server goes away', { timeout: 60_000 }, () => {
  it('closes promptly even when the server is gone', async () => {
    const server = await startNatsServer();
    const bus = await connectEvents({ servers: server.url, name: 'close-test', logger: quiet, drainTimeoutMs: 500 });
    await ensureStreams(bus);
    const event = defineEvent({ name: 'test.close', schema: StringValueSchema });
    await bus.consume(event, { durable: 'close' }, async () => {});
    await server.stop();
    const t0 = Date.now();
    await bus.close();
    assert.ok(Date.now() - t0 < 3_000, `close took ${Date.now() - t0} ms`);
    assert.ok(bus.nc.isClosed());
    await bus.close(); // idempotent
  });

  it('keeps the durable consumer and resumes consuming after reconnect', async () => {
    const server = await startNatsServer();
    const bus = await connectEvents({ servers: server.url, name: 'restart-test', logger: quiet, reconnectWaitMs: 100 });
    try {
      await ensureStreams(bus);
      const event = defineEvent({ name: 'test.restart', schema: StringValueSchema });
      const seen: string[] = [];
      const sub = await bus.consume(event, { durable: 'restart', ackWaitMs: 2_000 }, async (m) => {
        seen.push(m.value);
      });
      await bus.publish(event, 'NABIL', text('before'), { msgId: 'r-1' });
      await waitFor(() => seen.includes('before'), 'message before restart');

      await server.restart();
      // The first publish may race the reconnect; a re-send with the same msgId is safe by design.
      await waitFor(
        async () => (await bus.publish(event, 'NABIL', text('after'), { msgId: 'r-2', timeoutMs: 1_000 })).seq > 0,
        'publish after restart',
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      await waitFor(() => seen.includes('after'), 'message after restart', { timeoutMs: 20_000 });
      assert.deepEqual(
        seen.filter((v) => v === 'after'),
        ['after'],
      );
      const info = await bus.jsm.consumers.info(EVENTS_STREAM, 'restart');
      assert.equal(info.config.durable_name, 'restart');
      await sub.stop();
    } finally {
      await bus.close();
      await server.stop();
    }
  });
});
