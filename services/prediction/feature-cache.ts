/**
 * The feature vectors this instance has heard of: the latest per symbol and feature set, from
 * FeaturesComputed and from the feature service's answers, plus the latest BarsIngested per symbol.
 *
 * Serving without a hop. A vector that FeaturesComputed announced is *current* — served by Predict
 * without asking the feature service — while no bars newer than it have been seen for its symbol.
 * "Newer" is decided by JetStream stream sequence, not by arrival: both events live in one stream,
 * and the feature service publishes a symbol's FeaturesComputed only after it has read the bars
 * of the BarsIngested that caused it, so a vector whose event has a higher sequence than the
 * symbol's latest BarsIngested was computed with those bars — whichever of the two consumers of
 * this instance happens to run ahead. A vector dated before the latest bar seen is never current
 * either (that catches a FeaturesComputed still on its way for an earlier batch). A symbol whose
 * vector is not current is asked of the feature service; when that fails, the answer is the cached
 * vector, flagged degraded, as before. So a vector older than the bars the instance has seen is
 * never served as fresh, and no bar (new or corrected) goes unnoticed for longer than the events
 * take to arrive.
 *
 * Freshness window: a vector the feature service answered less than `freshMs` ago is used
 * without asking again, unless bars of its symbol arrived since. Misses (a symbol no event has
 * announced since this instance started) and as-of lookups go this way. 0 switches both the
 * window and current vectors off: the feature service is asked on every prediction.
 *
 * Memory: the latest vector per symbol and set, its feature names and computed_at dropped, the
 * feature set reference shared: about 1 KB of heap per symbol (`make bench ONLY=latency`).
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

/** A cached vector: when it was last heard of (performance.now() ms) and from where. */
interface Held {
  vector: FeatureVector;
  /** Its trading day as yyyymmdd. */
  day: number;
  heardAt: number;
  /** Stream sequence of the FeaturesComputed that announced it; 0 for a feature service answer. */
  seq: number;
}

/** The latest bars seen of one symbol. */
interface BarsSeen {
  /** Highest stream sequence of its BarsIngested. */
  seq: number;
  /** Latest trading day among its bars, yyyymmdd. */
  day: number;
  /** When the last of them arrived (performance.now() ms): window answers heard before it are spent. */
  at: number;
}

/** `ohlcv@1`. */
export const featureSetKey = (set: Pick<FeatureSetRef, 'name' | 'version'>) => `${set.name}@${set.version}`;

/** The ISO day of a vector. */
export const isoOf = (vector: FeatureVector) => (vector.date ? isoDate(vector.date.year, vector.date.month, vector.date.day) : undefined);

const dayNumber = (d: { year: number; month: number; day: number }) => d.year * 10_000 + d.month * 100 + d.day;

const NO_NAMES: string[] = [];

/** The latest vector per symbol and feature set, and the latest bars per symbol; see the file comment. */
export class FeatureCache {
  /** Vectors by feature set name, then version, then symbol (no key string built per lookup). */
  private readonly bySet = new Map<string, Map<number, Map<string, Held>>>();
  private readonly bars = new Map<string, BarsSeen>();
  /** One FeatureSetRef object per set, shared by every cached vector of it. */
  private readonly setRefs = new Map<string, FeatureSetRef>();
  private readonly listeners = new Set<(vector: FeatureVector) => void>();
  private size = 0;

  constructor(private readonly options: FeatureCacheOptions) {}

  /** Vectors held (symbols times feature sets). */
  get count(): number {
    return this.size;
  }

  /** The latest vector heard of for a symbol in a set, however old. */
  latest(set: FeatureSetKey, symbol: string): FeatureVector | undefined {
    return this.bySet.get(set.name)?.get(set.version)?.get(symbol)?.vector;
  }

  /**
   * The cached vector when it answers the lookup without asking the feature service: for the
   * latest (`asOf` undefined) a current vector or one within its freshness window; for a day, one
   * of that day within its window.
   */
  fresh(set: FeatureSetKey, symbol: string, asOf: string | undefined): FeatureVector | undefined {
    if (this.options.freshMs <= 0) return undefined;
    const held = this.bySet.get(set.name)?.get(set.version)?.get(symbol);
    if (!held) return undefined;
    if (asOf === undefined && this.isCurrent(held, symbol)) return held.vector;
    const bars = this.bars.get(symbol);
    if (performance.now() - held.heardAt >= this.options.freshMs || (bars && (held.heardAt < bars.at || held.day < bars.day)))
      return undefined;
    if (asOf !== undefined && isoOf(held.vector) !== asOf) return undefined;
    return held.vector;
  }

  /** Whether an announced vector is later than every bars event seen of its symbol. */
  private isCurrent(held: Held, symbol: string): boolean {
    if (held.seq === 0) return false;
    const bars = this.bars.get(symbol);
    return bars === undefined || (held.seq > bars.seq && held.day >= bars.day);
  }

  /**
   * Keeps `vector` as its symbol's latest (heard of now) unless a vector of a later day is held,
   * or a current one of the same day and this is only an answer.
   * @param seq stream sequence of the FeaturesComputed that carried it; 0 for a feature service answer.
   * @returns whether it was kept.
   */
  remember(vector: FeatureVector, seq = 0): boolean {
    const set = vector.featureSet;
    if (!set || !vector.date) return false;
    let versions = this.bySet.get(set.name);
    if (!versions) this.bySet.set(set.name, (versions = new Map()));
    let vectors = versions.get(set.version);
    if (!vectors) versions.set(set.version, (vectors = new Map()));
    const day = dayNumber(vector.date);
    const held = vectors.get(vector.symbol);
    // An answer of the day a current event already brought says nothing newer: keep the event's.
    if (held && (held.day > day || (held.day === day && held.seq > seq && (seq > 0 || this.isCurrent(held, vector.symbol))))) return false;
    if (!held) this.options.metrics.cachedVectors.set(++this.size);
    vectors.set(vector.symbol, { vector: this.compact(vector), day, heardAt: performance.now(), seq });
    return true;
  }

  /**
   * Notes bars of `symbol` up to `day` (yyyymmdd) announced by the BarsIngested of stream
   * sequence `seq`: its cached vectors stop being current until a later FeaturesComputed.
   */
  barsSeen(symbol: string, day: number, seq: number): void {
    const seen = this.bars.get(symbol);
    if (!seen) this.bars.set(symbol, { seq, day, at: performance.now() });
    else {
      seen.seq = Math.max(seen.seq, seq);
      seen.day = Math.max(seen.day, day);
      seen.at = performance.now();
    }
  }

  /** Drops what a cached vector does not need (names: the set says them; when it was computed) and shares its set reference. */
  private compact(vector: FeatureVector): FeatureVector {
    const set = vector.featureSet!;
    const key = featureSetKey(set);
    const shared = this.setRefs.get(key);
    if (shared) vector.featureSet = shared;
    else this.setRefs.set(key, set);
    vector.names = NO_NAMES;
    vector.computedAt = undefined;
    return vector;
  }

  /** Calls `listener` with each newer vector announced by FeaturesComputed; returns the unsubscribe function. */
  onFresh(listener: (vector: FeatureVector) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Consumes FeaturesComputed on a durable consumer of this instance alone (every instance needs
   * every event: its cache and its watchers are its own). A new durable starts with the latest
   * stored event of each symbol — the warm-up: one vector per symbol, pulled in pages, however long
   * the stream's history — then takes every new one. The durable is told to expire after
   * `inactiveMs` unused, so the consumers of replicas that are gone do not pile up on the server.
   * Events published before `since` warm the cache but are not pushed to watchers: they are history.
   */
  async consume(events: EventBus, durable: string, since: Date, inactiveMs = 3_600_000): Promise<EventSubscription> {
    const subscription = await events.consume(
      MeshEvents.featuresComputed,
      { durable, concurrency: 4, startAt: 'last_per_key' },
      async (event, delivery) => {
        const vector = event.latest;
        if (!vector || !this.remember(vector, delivery.seq) || delivery.publishedAt < since) return;
        for (const listener of this.listeners) {
          try {
            listener(vector);
          } catch (error) {
            this.options.logger.error({ err: error, symbol: vector.symbol }, 'feature listener failed');
          }
        }
      },
    );
    await this.expireWhenUnused(events, durable, inactiveMs);
    return subscription;
  }

  /**
   * Consumes BarsIngested on a durable of this instance alone, starting like {@link consume} with
   * the latest stored event of each symbol: what tells a current vector from one that new or
   * corrected bars have overtaken.
   */
  async consumeBars(events: EventBus, durable: string, inactiveMs = 3_600_000): Promise<EventSubscription> {
    const subscription = await events.consume(
      MeshEvents.barsIngested,
      { durable, concurrency: 4, startAt: 'last_per_key' },
      async (event, delivery) => {
        let day = event.lastDate ? dayNumber(event.lastDate) : 0;
        for (const bar of event.bars) if (bar.date) day = Math.max(day, dayNumber(bar.date));
        this.barsSeen(event.symbol, day, delivery.seq);
      },
    );
    await this.expireWhenUnused(events, durable, inactiveMs);
    return subscription;
  }

  private async expireWhenUnused(events: EventBus, durable: string, inactiveMs: number): Promise<void> {
    try {
      await events.jsm.consumers.update(EVENTS_STREAM, durable, { inactive_threshold: nanos(inactiveMs) });
    } catch (error) {
      this.options.logger.warn({ err: error, durable }, 'could not set the durable consumer to expire when unused');
    }
  }
}
