import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { StringValueSchema, type StringValue } from '@bufbuild/protobuf/wkt';
import { headers as natsHeaders, type StoredMsg } from 'nats';
import { connectEvents, type EventBus } from './bus.js';
import { deadLetterMsgId } from './dead-letter.js';
import { EventRejectedError } from './errors.js';
import { defineEvent } from './event-type.js';
import { EventHeaders } from './headers.js';
import type { DeadLetterReason, EventsLogger } from './observe.js';
import { DEAD_LETTER_STREAM, EVENTS_STREAM, ensureStreams } from './streams.js';
import { startNatsServer, waitFor, type NatsTestServer } from './testing.js';

const quiet: EventsLogger = { debug() {}, info() {}, warn() {}, error() {} };
const text = (value: string): StringValue => create(StringValueSchema, { value });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('redelivery and dead letters', { timeout: 60_000 }, () => {
  let server: NatsTestServer;
  let bus: EventBus;
  const deadLettered: Array<{ event: string; durable: string; reason: DeadLetterReason }> = [];
  const redelivered: string[] = [];

  before(async () => {
    server = await startNatsServer();
    bus = await connectEvents({
      servers: server.url,
      name: 'dlq-test',
      logger: quiet,
      metrics: {
        onDeadLettered: (event, durable, reason) => deadLettered.push({ event, durable, reason }),
        onRedelivered: (_event, durable) => redelivered.push(durable),
      },
    });
    await ensureStreams(bus);
  });

  after(async () => {
    await bus?.close();
    await server?.stop();
  });

  /** Dead letters stored for one durable and event, read straight from the stream. */
  async function deadLetters(durable: string, event: string): Promise<StoredMsg[]> {
    const subject = `nepse.dlq.${durable}.${event}`;
    const info = await bus.jsm.streams.info(DEAD_LETTER_STREAM, { subjects_filter: subject });
    const count = info.state.subjects?.[subject] ?? 0;
    if (count === 0) return [];
    const out: StoredMsg[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && out.length < count; seq++) {
      const m = await bus.jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq }).catch(() => undefined);
      if (m?.subject === subject) out.push(m);
    }
    return out;
  }

  it('redelivers after failures with deliveryCount 1, 2, 3 and then acks', async () => {
    const event = defineEvent({ name: 'test.flaky', schema: StringValueSchema });
    const counts: number[] = [];
    const sub = await bus.consume(event, { durable: 'flaky', maxDeliver: 5, ackWaitMs: 5_000, backoffMs: [50, 100] }, async (_m, d) => {
      counts.push(d.deliveryCount);
      if (d.deliveryCount < 3) throw new Error(`transient failure ${d.deliveryCount}`);
    });
    try {
      await bus.publish(event, 'NABIL', text('flaky'), { msgId: 'flaky-1' });
      await waitFor(async () => counts.length === 3 && (await bus.consumerLag('flaky')).total === 0, 'acked on third try');
      assert.deepEqual(counts, [1, 2, 3]);
      assert.deepEqual(
        redelivered.filter((d) => d === 'flaky'),
        ['flaky', 'flaky'],
      );
      assert.deepEqual(await deadLetters('flaky', 'test.flaky'), []);
    } finally {
      await sub.stop();
    }
  });

  it('dead-letters exactly once after maxDeliver failed attempts', async () => {
    const event = defineEvent({ name: 'test.broken', schema: StringValueSchema });
    const counts: number[] = [];
    const sub = await bus.consume(event, { durable: 'broken', maxDeliver: 3, ackWaitMs: 500, backoffMs: [30] }, async (_m, d) => {
      counts.push(d.deliveryCount);
      throw new Error('always fails\nsecond line');
    });
    try {
      const sent = await bus.publish(event, 'NICA', text('doomed'), { msgId: 'broken-1' });
      const [dl] = await waitFor(async () => {
        const found = await deadLetters('broken', 'test.broken');
        return found.length > 0 ? found : undefined;
      }, 'the dead letter');
      // Long enough for an ack-timeout redelivery or advisory copy, if either were (wrongly) coming.
      await sleep(1_500);
      assert.deepEqual(counts, [1, 2, 3]);
      assert.equal((await deadLetters('broken', 'test.broken')).length, 1);
      assert.deepEqual(dl!.data, toBinary(StringValueSchema, text('doomed')));
      assert.equal(dl!.header.get(EventHeaders.error), 'Error: always fails second line');
      assert.equal(dl!.header.get(EventHeaders.originalSubject), 'nepse.v1.test.broken.NICA');
      assert.equal(dl!.header.get(EventHeaders.originalSeq), String(sent.seq));
      assert.equal(dl!.header.get(EventHeaders.originalMsgId), 'broken-1');
      assert.equal(dl!.header.get(EventHeaders.consumer), 'broken');
      assert.equal(dl!.header.get(EventHeaders.deliveries), '3');
      assert.equal(dl!.header.get(EventHeaders.event), 'test.broken');
      assert.equal(dl!.header.get(EventHeaders.contentType), 'application/protobuf');
      assert.equal(dl!.header.get(EventHeaders.msgId), deadLetterMsgId(EVENTS_STREAM, 'broken', sent.seq));
      assert.deepEqual(
        deadLettered.filter((d) => d.durable === 'broken'),
        [{ event: 'test.broken', durable: 'broken', reason: 'handler-failed' }],
      );
      const lag = await bus.consumerLag('broken');
      assert.equal(lag.total, 0);
    } finally {
      await sub.stop();
    }
  });

  it('dead-letters a poison payload and a rejected message at once', async () => {
    const event = defineEvent({ name: 'test.poison', schema: StringValueSchema });
    const handled: string[] = [];
    const sub = await bus.consume(event, { durable: 'poison', maxDeliver: 5, backoffMs: [30] }, async (m) => {
      handled.push(m.value);
      if (m.value === 'reject me') throw new EventRejectedError('not a valid bar');
    });
    try {
      const hdrs = natsHeaders();
      hdrs.set(EventHeaders.event, 'test.poison');
      // Field 1, length 5, but only one byte follows: cannot decode.
      await bus.js.publish('nepse.v1.test.poison.NABIL', new Uint8Array([0x0a, 0x05, 0x41]), { msgID: 'p-1', headers: hdrs });
      await bus.publish(event, 'NABIL', text('reject me'), { msgId: 'p-2' });
      const found = await waitFor(async () => {
        const all = await deadLetters('poison', 'test.poison');
        return all.length === 2 ? all : undefined;
      }, 'two dead letters');
      assert.match(found[0]!.header.get(EventHeaders.error), /^EventDecodeError: /);
      assert.equal(found[0]!.header.get(EventHeaders.deliveries), '1');
      assert.equal(found[1]!.header.get(EventHeaders.error), 'EventRejectedError: not a valid bar');
      assert.equal(found[1]!.header.get(EventHeaders.deliveries), '1');
      assert.deepEqual(handled, ['reject me']);
      assert.deepEqual(
        deadLettered.filter((d) => d.durable === 'poison').map((d) => d.reason),
        ['decode', 'rejected'],
      );
    } finally {
      await sub.stop();
    }
  });

  it('dead-letters from the max-deliveries advisory when no verdict ever comes', async () => {
    const event = defineEvent({ name: 'test.stuck', schema: StringValueSchema });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const counts: number[] = [];
    // Handlers that hang past ackWait: the server redelivers, then gives up without any verdict.
    const sub = await bus.consume(event, { durable: 'stuck', maxDeliver: 2, ackWaitMs: 300, concurrency: 3 }, async (_m, d) => {
      counts.push(d.deliveryCount);
      await released;
    });
    try {
      const sent = await bus.publish(event, 'NABIL', text('stuck'), { msgId: 'stuck-1' });
      const [dl] = await waitFor(async () => {
        const found = await deadLetters('stuck', 'test.stuck');
        return found.length > 0 ? found : undefined;
      }, 'the advisory dead letter');
      assert.match(dl!.header.get(EventHeaders.error), /max deliveries \(2\)/);
      assert.equal(dl!.header.get(EventHeaders.originalSeq), String(sent.seq));
      assert.deepEqual(dl!.data, toBinary(StringValueSchema, text('stuck')));
      assert.deepEqual(counts, [1, 2]);
      assert.deepEqual(
        deadLettered.filter((d) => d.durable === 'stuck').map((d) => d.reason),
        ['max-deliveries'],
      );
    } finally {
      release();
      await sub.stop();
    }
  });
});
