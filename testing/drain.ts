/**
 * processAll's wait: every durable consumer of every stream has nothing left to deliver and
 * nothing awaiting an ack, read in a pass during which no stream grew. A handler publishes its own
 * events before it acks, so a pass that sees a consumer drained while another event was being
 * published sees that stream grow, and is taken again.
 */
import type { JetStreamManager } from 'nats';
import { waitFor } from '../lib/events/testing.js';

/** Options of {@link drainConsumers}. Durations are milliseconds. */
export interface DrainOptions {
  /** Longest wait. Default 30 000. */
  timeoutMs?: number;
  /** Durable consumers not waited for (say, one of a service the test stopped). */
  skip?: (durable: string) => boolean;
}

/** A consumer still behind, for the timeout's message. */
interface Behind {
  durable: string;
  pending: number;
  ackPending: number;
}

/** Resolves once every consumer has drained; rejects after the timeout naming those still behind. */
export async function drainConsumers(jsm: JetStreamManager, options: DrainOptions = {}): Promise<void> {
  let behind: Behind[] = [];
  await waitFor(
    async () => {
      const before = await lastSequences(jsm);
      behind = [];
      for (const stream of before.keys()) {
        for await (const consumer of jsm.consumers.list(stream)) {
          const durable = consumer.config.durable_name ?? consumer.name;
          if (options.skip?.(durable)) continue;
          if (consumer.num_pending > 0 || consumer.num_ack_pending > 0)
            behind.push({ durable, pending: consumer.num_pending, ackPending: consumer.num_ack_pending });
        }
      }
      if (behind.length > 0) return false;
      const after = await lastSequences(jsm);
      return [...after].every(([stream, seq]) => before.get(stream) === seq);
    },
    'every event consumer to drain',
    { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 20 },
  ).catch((error: Error) => {
    const detail = behind.map((b) => `${b.durable} (${b.pending} pending, ${b.ackPending} unacked)`).join(', ');
    throw new Error(detail ? `${error.message}: ${detail}` : error.message, { cause: error.cause });
  });
}

/** The last sequence of every stream, by name. */
async function lastSequences(jsm: JetStreamManager): Promise<Map<string, number>> {
  const sequences = new Map<string, number>();
  for await (const stream of jsm.streams.list()) sequences.set(stream.config.name, stream.state.last_seq);
  return sequences;
}
