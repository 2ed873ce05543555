import { fromBinary, toBinary, type Message } from '@bufbuild/protobuf';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { EventBus, EventType } from '../../lib/events/index.js';
import { detached } from '../../lib/grpc/index.js';
import type { Database, Queryable } from '../../lib/postgres/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import { registryStore } from './store.js';

const EVENTS = new Map<string, EventType<Message>>(Object.values(MeshEvents).map((e) => [e.name, e as unknown as EventType<Message>]));

/** Sent events are forgotten after this long, in milliseconds (JetStream keeps its own copy). */
const SENT_RETENTION_MS = 7 * 24 * 3600_000;

/**
 * Records an event in the transaction of the change it announces. It is published after the
 * commit (see {@link EventOutbox.flush}), so an event never announces a change that was rolled
 * back, and a committed change never goes unannounced.
 */
export async function enqueueEvent<T extends Message>(
  tx: Queryable,
  event: EventType<T>,
  key: string,
  message: T,
  msgId: string,
): Promise<void> {
  await registryStore.enqueueEvent(tx, { event: event.name, key, msgId, payload: toBinary(event.schema, message) });
}

/**
 * Publishes the outbox to JetStream in the order events were recorded. One flush runs at a time
 * and stops at the first event NATS does not acknowledge, so an event is never published before
 * an earlier one (a rollback never overtakes its promotion); the relay retries every interval.
 * Re-sends carry the same Nats-Msg-Id and are dropped by JetStream as duplicates.
 */
export class EventOutbox {
  #running: Promise<number> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #lastPrune = 0;

  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
    private readonly logger: Logger,
  ) {}

  /** Publishes what is waiting; resolves with how many events this pass sent. Never throws. */
  flush(): Promise<number> {
    if (this.#running) {
      // A pass is under way and may have read the outbox before the caller's commit: it reads
      // once more before it ends, and the caller waits for that.
      this.#again = true;
      return this.#running;
    }
    // A pass outlives the call whose commit started it: later commits join it.
    this.#running = detached(() => this.pass()).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  private async pass(): Promise<number> {
    let sent = 0;
    try {
      do {
        this.#again = false;
        for (
          let batch = await registryStore.unsentEvents(this.db, 100);
          batch.length > 0;
          batch = await registryStore.unsentEvents(this.db, 100)
        ) {
          for (const row of batch) {
            const event = EVENTS.get(row.event);
            if (!event) throw new Error(`outbox holds an unknown event ${JSON.stringify(row.event)}`);
            await this.events.publish(event, row.key, fromBinary(event.schema, row.payload), { msgId: row.msg_id });
            await registryStore.markSent(this.db, row.id);
            sent++;
          }
        }
      } while (this.#again);
      if (Date.now() - this.#lastPrune > 3600_000) {
        this.#lastPrune = Date.now();
        await registryStore.pruneSent(this.db, SENT_RETENTION_MS);
      }
    } catch (error) {
      this.logger.warn({ err: error, sent }, 'events not published yet; the outbox relay will retry');
    }
    return sent;
  }

  /** Sweeps the outbox now and then every `intervalMs` (events left by an outage or a crash). */
  start(intervalMs: number): void {
    void this.flush();
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /** Stops the relay and waits for a pass under way. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
