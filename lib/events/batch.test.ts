import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { StringValueSchema, type StringValue } from '@bufbuild/protobuf/wkt';
import { headers as natsHeaders } from 'nats';
import { connectEvents, type EventBus } from './bus.js';
import { EventConfigError } from './errors.js';
import { defineEvent } from './event-type.js';
import { EventHeaders } from './headers.js';
import type { DeadLetterReason, EventsLogger } from './observe.js';
import { ensureStreams } from './streams.js';
import { startNatsServer, waitFor, type NatsTestServer } from './testing.js';

const quiet: EventsLogger = { debug() {}, info() {}, warn() {}, error() {} };
const text = (value: string): StringValue => create(StringValueSchema, { value });

describe('batch consumers', { timeout: 60_000 }, () => {
  let server: NatsTestServer;
  let bus: EventBus;
  const deadLettered: Array<{ durable: string; reason: DeadLetterReason }> = [];

  before(async () => {
    server = await startNatsServer();
    bus = await connectEvents({
      servers: server.url,
      name: 'batch-test',
      logger: quiet,
      metrics: { onDeadLettered: (_event, durable, reason) => deadLettered.push({ durable, reason }) },
    });
    await ensureStreams(bus);
  });

  after(async () => {
    await bus?.close();
    await server?.stop();
  });

  it('hands over what has arrived in stream order, at most maxBatch at a time, and acks after the handler', async () => {
    const event = defineEvent({ name: 'test.batched', schema: StringValueSchema });
    for (let i = 0; i < 25; i++) await bus.publish(event, 'NABIL', text(`m${i}`), { msgId: `batched-${i}` });
    const batches: string[][] = [];
    let lagDuringHandler = -1;
    const sub = await bus.consumeBatches(event, { durable: 'batched', maxBatch: 10 }, async (items) => {
      // The first batch is still unacknowledged while its handler runs.
      if (batches.length === 0) lagDuringHandler = (await bus.consumerLag('batched')).ackPending;
      batches.push(items.map((i) => i.message.value));
      assert.ok(items.every((i) => i.delivery.deliveryCount === 1 && i.delivery.msgId?.startsWith('batched-')));
    });
    try {
      await waitFor(async () => batches.flat().length === 25 && (await bus.consumerLag('batched')).total === 0, 'all 25 acked');
      assert.deepEqual(
        batches.flat(),
        Array.from({ length: 25 }, (_, i) => `m${i}`),
      );
      assert.ok(
        batches.every((b) => b.length <= 10),
        `batches of ${batches.map((b) => b.length)}`,
      );
      assert.ok(batches.length < 25, `a backlog comes in batches, not one by one: ${batches.map((b) => b.length)}`);
      assert.ok(lagDuringHandler >= batches[0].length, `the first batch was acked only after its handler: ${lagDuringHandler} pending`);
    } finally {
      await sub.stop();
    }
  });

  it('retries a failed batch one message at a time, so one bad message is dead-lettered and the rest go through', async () => {
    const event = defineEvent({ name: 'test.batchfail', schema: StringValueSchema });
    const hdrs = natsHeaders();
    hdrs.set(EventHeaders.event, 'test.batchfail');
    await bus.publish(event, 'NABIL', text('a'), { msgId: 'bf-a' });
    // Field 1, length 5, but only one byte follows: cannot decode, dead-lettered without failing the batch.
    await bus.js.publish('nepse.v1.test.batchfail.NABIL', new Uint8Array([0x0a, 0x05, 0x41]), { msgID: 'bf-poison', headers: hdrs });
    await bus.publish(event, 'NABIL', text('bad'), { msgId: 'bf-bad' });
    await bus.publish(event, 'NABIL', text('b'), { msgId: 'bf-b' });
    const calls: Array<{ values: string[]; deliveries: number[] }> = [];
    const done = new Set<string>();
    const sub = await bus.consumeBatches(event, { durable: 'batchfail', maxDeliver: 3, backoffMs: [20] }, async (items) => {
      calls.push({ values: items.map((i) => i.message.value), deliveries: items.map((i) => i.delivery.deliveryCount) });
      if (items.some((i) => i.message.value === 'bad')) throw new Error('bad message in batch');
      for (const i of items) done.add(i.message.value);
    });
    try {
      await waitFor(
        async () => deadLettered.filter((d) => d.durable === 'batchfail').length === 2 && (await bus.consumerLag('batchfail')).total === 0,
        'the poison and the bad message dead-lettered, the rest acked',
      );
      assert.deepEqual([...done].sort(), ['a', 'b']);
      assert.deepEqual(
        calls[0],
        { values: ['a', 'bad', 'b'], deliveries: [1, 1, 1] },
        'first deliveries in one batch, the poison left out',
      );
      // After the failure every message comes back alone; 'bad' until its deliveries run out.
      assert.ok(calls.slice(1).every((c) => c.values.length === 1 && c.deliveries[0] > 1));
      assert.deepEqual(
        calls.filter((c) => c.values.includes('bad')).map((c) => c.deliveries),
        [[1, 1, 1], [2], [3]],
      );
      assert.deepEqual(
        deadLettered
          .filter((d) => d.durable === 'batchfail')
          .map((d) => d.reason)
          .sort(),
        ['decode', 'handler-failed'],
      );
    } finally {
      await sub.stop();
    }
  });

  it('refuses a batch limit that is not a positive integer', async () => {
    const event = defineEvent({ name: 'test.batchopts', schema: StringValueSchema });
    await assert.rejects(
      bus.consumeBatches(event, { durable: 'batchopts', maxBatch: 0 }, async () => {}),
      EventConfigError,
    );
  });
});
