/** Every mesh event published on a nats-server, decoded, in arrival order: for asserting what a service announced. */
import { fromBinary, type Message } from '@bufbuild/protobuf';
import type { Subscription } from 'nats';
import { MeshEvents } from '../lib/events/catalog.js';
import type { EventBus, EventType } from '../lib/events/index.js';

/** One event seen on the bus. */
export interface SeenEvent<T extends Message = Message> {
  subject: string;
  msgId: string;
  message: T;
}

/** Every mesh event published on a server, decoded, in arrival order. */
export class EventLog {
  readonly seen: SeenEvent[] = [];
  private constructor(private readonly sub: Subscription) {}

  /** Starts listening on `nepse.v1.>` through `bus` (a core subscription: it sees events as they are published). */
  static start(bus: EventBus): EventLog {
    const byName = new Map(Object.values(MeshEvents).map((e) => [e.name, e as unknown as EventType<Message>]));
    const log = new EventLog(bus.nc.subscribe('nepse.v1.>'));
    void (async () => {
      for await (const m of log.sub) {
        const name = m.subject.split('.').slice(2, -1).join('.');
        const event = byName.get(name);
        if (event)
          log.seen.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', message: fromBinary(event.schema, m.data) });
      }
    })();
    return log;
  }

  /** Events of one type, optionally filtered. */
  of<T extends Message>(event: EventType<T>, where: (message: T) => boolean = () => true): SeenEvent<T>[] {
    return (this.seen as SeenEvent<T>[]).filter((e) => e.subject.startsWith(`nepse.v1.${event.name}.`) && where(e.message));
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}
