/**
 * Consumer lag as Prometheus gauges, read from JetStream at scrape time: a gauge set from a
 * timer would either hammer NATS or be stale, and the scrape is the one moment someone looks.
 * Each scrape asks the server once per durable consumer (both gauges share the answer), bounded
 * by a timeout, so a slow or absent NATS costs a scrape at most that long and never hangs it.
 */
import { Counter, Gauge } from 'prom-client';
import type { ConsumerLag } from '../events/index.js';
import { metric } from './metrics-registry.js';

/** How long a scrape waits for JetStream's consumer info, in ms. */
export const DEFAULT_LAG_TIMEOUT_MS = 1_000;

/** A durable consumer whose lag is reported. */
export interface LagSource {
  /** JetStream stream, e.g. `NEPSE_EVENTS`. */
  stream: string;
  /** Durable consumer name. */
  durable: string;
  /** Asks the server how far the consumer is behind (EventBus.consumerLag). */
  lag: () => Promise<ConsumerLag>;
  /** Longest wait for `lag` during a scrape, in ms. Default {@link DEFAULT_LAG_TIMEOUT_MS}. */
  timeoutMs?: number;
}

interface Watched extends LagSource {
  /** The request of an earlier scrape still under way: reused, so a hung server does not pile them up. */
  inflight?: Promise<ConsumerLag>;
}

const watched = new Map<string, Watched>();
/**
 * The answers of the scrape under way, shared by both gauges: prom-client calls every collector
 * in one synchronous pass, so the snapshot is dropped at the next turn of the event loop and the
 * next scrape asks again.
 */
let snapshot: Promise<Map<Watched, ConsumerLag>> | undefined;

const keyOf = (stream: string, durable: string) => `${stream}\u0000${durable}`;

/** Resolves with `work`'s value, or undefined after `ms` or on failure. */
function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([work.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

function lagMetrics() {
  return {
    pending: metric(
      'nepse_events_consumer_pending',
      () =>
        new Gauge({
          name: 'nepse_events_consumer_pending',
          help: 'Messages stored in the stream for a durable consumer and not yet delivered to it, read at scrape time.',
          labelNames: ['stream', 'durable'],
          async collect() {
            await fill(this, (lag) => lag.pending);
          },
        }),
    ),
    ackPending: metric(
      'nepse_events_consumer_ack_pending',
      () =>
        new Gauge({
          name: 'nepse_events_consumer_ack_pending',
          help: 'Messages delivered to a durable consumer and awaiting acknowledgement, read at scrape time.',
          labelNames: ['stream', 'durable'],
          async collect() {
            await fill(this, (lag) => lag.ackPending);
          },
        }),
    ),
    failures: metric(
      'nepse_events_consumer_lag_failures_total',
      () =>
        new Counter({
          name: 'nepse_events_consumer_lag_failures_total',
          help: 'Scrapes whose consumer-lag request failed or timed out (the lag series is absent from that scrape).',
          labelNames: ['stream', 'durable'],
          // Waits for this scrape's requests, so a failure shows in the same scrape that lacks the series.
          async collect() {
            await takeSnapshot();
          },
        }),
    ),
  };
}

/** Registers the gauges, so the families are listed even before any consumer runs. */
export function registerConsumerLagMetrics(): void {
  lagMetrics();
}

function takeSnapshot(): Promise<Map<Watched, ConsumerLag>> {
  if (snapshot) return snapshot;
  const { failures } = lagMetrics();
  const sources = [...watched.values()];
  const result = Promise.all(
    sources.map(async (source) => {
      source.inflight ??= source.lag().finally(() => (source.inflight = undefined));
      const lag = await within(source.inflight, source.timeoutMs ?? DEFAULT_LAG_TIMEOUT_MS);
      if (!lag) failures.inc({ stream: source.stream, durable: source.durable });
      return [source, lag] as const;
    }),
  ).then((pairs) => new Map(pairs.filter((pair): pair is readonly [Watched, ConsumerLag] => pair[1] !== undefined)));
  snapshot = result;
  setImmediate(() => (snapshot = undefined));
  return result;
}

async function fill(gauge: Gauge<'stream' | 'durable'>, pick: (lag: ConsumerLag) => number): Promise<void> {
  const lags = await takeSnapshot();
  // Reset first: a consumer that stopped, or whose request failed, must not show its last value.
  gauge.reset();
  for (const [source, lag] of lags) {
    if (watched.get(keyOf(source.stream, source.durable)) === source)
      gauge.set({ stream: source.stream, durable: source.durable }, pick(lag));
  }
}

/**
 * Reports `source`'s lag on every scrape until the returned function is called. A second watch
 * of the same stream and durable replaces the first (one series per consumer); the first one's
 * unwatch then does nothing.
 */
export function watchConsumerLag(source: LagSource): () => void {
  lagMetrics();
  const key = keyOf(source.stream, source.durable);
  const entry: Watched = { ...source };
  watched.set(key, entry);
  return () => {
    if (watched.get(key) === entry) watched.delete(key);
  };
}
