/**
 * The feature vectors this instance has heard of: the latest per symbol and feature set, from the
 * feature service's answers and from FeaturesComputed. It serves as the fallback when the feature
 * service cannot answer, and within a short freshness window as the answer itself.
 *
 * Freshness window: a vector heard less than `freshMs` ago is used without asking again. Vectors
 * are daily — one new vector per symbol per session — and FeaturesComputed replaces a cached one
 * within milliseconds of its computation, so asking on every prediction would only make the
 * feature service the cost of every prediction (measured: most of a streamed prediction's CPU went
 * to feature calls). A vector within its window is a live answer, not a degraded one; 0 switches
 * the window off and the feature service is asked every time.
 */
import { nanos } from 'nats';
import type { FeatureVector } from '../../gen/nepse/feature/v1/feature_pb.js';
import type { FeatureSetRef } from '../../gen/nepse/market/v1/market_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EVENTS_STREAM, type EventBus, type EventSubscription } from '../../lib/events/index.js';
import { isoDate } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { PredictionMetrics } from './metrics.js';

/** A feature set by name and version (both always set here: they come from a loaded model). */
export interface FeatureSetKey {
  readonly name: string;
  readonly version: number;
}

/** Options of {@link FeatureCache}. */
export interface FeatureCacheOptions {
  /** How long a vector heard from the feature service is used without asking again, in ms; 0: always ask. */
  freshMs: number;
  logger: Logger;
  metrics: PredictionMetrics;
}

/** A cached vector and when it was last heard of (performance.now() ms). */
interface Held {
  vector: FeatureVector;
  heardAt: number;
}

/** `ohlcv@1`. */
export const featureSetKey = (set: Pick<FeatureSetRef, 'name' | 'version'>) => `${set.name}@${set.version}`;

/** The ISO day of a vector. */
export const isoOf = (vector: FeatureVector) => (vector.date ? isoDate(vector.date.year, vector.date.month, vector.date.day) : undefined);

const dayNumber = (d: { year: number; month: number; day: number }) => d.year * 10_000 + d.month * 100 + d.day;

/** The latest vector per symbol and feature set; see the file comment. */
export class FeatureCache {
  private readonly bySet = new Map<string, Map<string, Held>>();
  private readonly listeners = new Set<(vector: FeatureVector) => void>();
  private size = 0;

  constructor(private readonly options: FeatureCacheOptions) {}

  /** The latest vector heard of for a symbol in a set, however old. */
  latest(set: FeatureSetKey, symbol: string): FeatureVector | undefined {
    return this.bySet.get(featureSetKey(set))?.get(symbol)?.vector;
  }

  /** The cached vector when it answers the lookup (`asOf` undefined: the latest) and is within its freshness window. */
  fresh(set: FeatureSetKey, symbol: string, asOf: string | undefined): FeatureVector | undefined {
    if (this.options.freshMs <= 0) return undefined;
    const held = this.bySet.get(featureSetKey(set))?.get(symbol);
    if (!held || performance.now() - held.heardAt >= this.options.freshMs) return undefined;
    if (asOf !== undefined && isoOf(held.vector) !== asOf) return undefined;
    return held.vector;
  }

  /**
   * Keeps `vector` as its symbol's latest (heard of now) unless a vector of a later day is held.
   * @returns whether it was kept.
   */
  remember(vector: FeatureVector): boolean {
    if (!vector.featureSet || !vector.date) return false;
    const key = featureSetKey(vector.featureSet);
    let vectors = this.bySet.get(key);
    if (!vectors) this.bySet.set(key, (vectors = new Map()));
    const held = vectors.get(vector.symbol)?.vector;
    if (held?.date && dayNumber(held.date) > dayNumber(vector.date)) return false;
    if (!held) this.options.metrics.cachedVectors.set(++this.size);
    vectors.set(vector.symbol, { vector, heardAt: performance.now() });
    return true;
  }

  /** Calls `listener` with each newer vector announced by FeaturesComputed; returns the unsubscribe function. */
  onFresh(listener: (vector: FeatureVector) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Consumes FeaturesComputed on a durable consumer of this instance alone (every instance needs
   * every event: its cache and its watchers are its own). The durable is told to expire after
   * `inactiveMs` unused, so the consumers of replicas that are gone do not pile up on the server.
   * Events published before `since` warm the cache but are not pushed to watchers: they are history.
   */
  async consume(events: EventBus, durable: string, since: Date, inactiveMs = 3_600_000): Promise<EventSubscription> {
    const subscription = await events.consume(MeshEvents.featuresComputed, { durable, concurrency: 4 }, async (event, delivery) => {
      const vector = event.latest;
      if (!vector || !this.remember(vector) || delivery.publishedAt < since) return;
      for (const listener of this.listeners) {
        try {
          listener(vector);
        } catch (error) {
          this.options.logger.error({ err: error, symbol: vector.symbol }, 'feature listener failed');
        }
      }
    });
    try {
      await events.jsm.consumers.update(EVENTS_STREAM, durable, { inactive_threshold: nanos(inactiveMs) });
    } catch (error) {
      this.options.logger.warn({ err: error, durable }, 'could not set the durable consumer to expire when unused');
    }
    return subscription;
  }
}
