import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { FeaturesComputedSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { EventRejectedError, type EventBus } from '../../lib/events/index.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import { InvalidHistoryError, type DailyBar, type FeatureRow, type FeatureSetDefinition } from './feature-sets/index.js';
import type { OnlineStore } from './online-store.js';
import type { FeatureStore, VectorWrite } from './store.js';
import { PackedHistory } from './history.js';
import { VectorPool } from './vector-pool.js';
import { toFeatureVector } from './vectors.js';

/** What recomputing needs. */
export interface RecomputeDeps {
  store: FeatureStore;
  online: OnlineStore;
  events: EventBus;
  logger: Logger;
  sets: readonly FeatureSetDefinition[];
  /**
   * Worker threads for whole histories (a new symbol, a corrected past day, the first day after a
   * restart); without it, or for a set it does not know, everything is computed on this thread.
   * Appended days resume from saved state and always compute here: they read a few dozen bars.
   */
  pool?: VectorPool;
}

/** What one recomputation did, per feature set. */
export interface RecomputeOutcome {
  symbol: string;
  set: string;
  firstDate: string;
  lastDate: string;
  vectors: number;
}

/** Bars of one symbol from one BarsIngested event. */
export interface IncomingBars {
  symbol: string;
  bars: readonly DailyBar[];
  batchId: string;
}

/**
 * FeaturesComputed events published at the same time. A day's closes arrive as one batch of a
 * few hundred symbols; with 8 in flight their PubAck round trips took longer than computing them.
 */
const PUBLISH_CONCURRENCY = 64;
/** Attempts per FeaturesComputed before the batch fails and its events come back. */
const PUBLISH_ATTEMPTS = 3;

/** One set's new vectors of one symbol: as rows, or already encoded for the insert by a worker. */
interface SetVectors {
  set: FeatureSetDefinition;
  state: unknown;
  count: number;
  firstDate: string;
  lastDate: string;
  latest: FeatureRow | undefined;
  write: VectorWrite;
}

/** One symbol's recomputation, done in memory before anything is stored. */
interface Computed {
  symbol: string;
  batchId: string;
  incoming: DailyBar[];
  merged: PackedHistory;
  perSet: SetVectors[];
}

/**
 * Keeps each symbol's history and recomputes its vectors when bars arrive. Incoming bars are
 * merged into the history (a bar of an existing day replaces it); every vector from the earliest
 * incoming day on is recomputed and rewritten, since each depends on all earlier bars (EMAs,
 * Wilder smoothing) and on nothing later. Earlier vectors are left as they are. Bars appended
 * after the last known day resume from the state the previous computation left, so a new day
 * costs that day (and the bars its windows reach), not the symbol's whole history; a corrected
 * past day recomputes the symbol from its first bar. Applying the same bars again rewrites
 * identical vectors, so a redelivered event is harmless.
 *
 * Bars arrive in batches of events (many symbols at once): histories not yet in memory are read
 * in one query, and the bars and vectors of the whole batch are written in one insert each. Whole
 * histories are computed side by side on the pool's worker threads when there is one, each
 * giving bit for bit the vectors this thread would.
 */
export class FeatureEngine {
  private readonly histories = new Map<string, PackedHistory>();
  /** Per symbol, per feature set (by position in `sets`): the state to resume an append from. */
  private readonly states = new Map<string, unknown[]>();
  private tail: Promise<unknown> = Promise.resolve();
  /** computed_at of the last batch, ms since the epoch. */
  private lastStamp = 0;

  constructor(private readonly deps: RecomputeDeps) {}

  /** Applies bars of one symbol; see {@link applyBatch}. */
  apply(symbol: string, bars: readonly DailyBar[], batchId: string): Promise<RecomputeOutcome[]> {
    return this.applyBatch([{ symbol, bars, batchId }]);
  }

  /**
   * Applies the bars of several events, in order; calls run one after another. Throws
   * EventRejectedError when the only symbol's bars cannot be computed from (retrying cannot help);
   * with several symbols, a plain error, so that each event is retried alone and only the bad one
   * is refused. Nothing is stored in either case.
   */
  applyBatch(items: readonly IncomingBars[]): Promise<RecomputeOutcome[]> {
    // Batches compute one after another, in call order; a batch's writes and events overlap the
    // next batch's computation (the engine's inserts run on its own threads), and its caller
    // learns the outcome once they are done.
    const computed = this.tail.catch(() => {}).then(() => this.computeBatch(items));
    this.tail = computed;
    return computed.then((batch) => (batch ? this.store(batch) : []));
  }

  /** Phase one: histories, vectors and the new in-memory state of a batch; undefined when it has no bars. */
  private async computeBatch(items: readonly IncomingBars[]): Promise<{ computed: Computed[]; computedAt: Date } | undefined> {
    const bySymbol = new Map<string, { incoming: DailyBar[]; batchId: string }>();
    for (const item of items) {
      if (item.bars.length === 0) continue;
      const entry = bySymbol.get(item.symbol);
      if (entry) {
        entry.incoming.push(...item.bars);
        entry.batchId = item.batchId;
      } else bySymbol.set(item.symbol, { incoming: [...item.bars], batchId: item.batchId });
    }
    if (bySymbol.size === 0) return undefined;
    const missing = [...bySymbol.keys()].filter((s) => !this.histories.has(s));
    if (missing.length > 0) {
      for (const [symbol, bars] of await this.deps.store.histories(missing)) {
        // Stored bars were validated before they were stored, so they pack.
        this.histories.set(symbol, PackedHistory.of(bars) ?? PackedHistory.EMPTY);
      }
    }

    // Vectors of a later batch must replace those of an earlier one even when their writes finish
    // out of order: ReplacingMergeTree keeps the greatest computed_at, so stamps strictly increase.
    // Taken before computing: workers encode the rows with it.
    const now = Date.now();
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 1;
    const computedAt = new Date(this.lastStamp);

    // Everything is computed before anything is stored: bars the feature sets refuse (they throw
    // InvalidHistoryError) leave no trace. Whole histories go to the pool first, so that the
    // appended days computed here overlap them; the first refusal in event order is reported.
    const pending: Promise<Computed>[] = [];
    for (const [symbol, { incoming, batchId }] of bySymbol) pending.push(this.compute(symbol, incoming, batchId, computedAt));
    const settled = await Promise.allSettled(pending);
    const computed: Computed[] = [];
    for (const [i, symbol] of [...bySymbol.keys()].entries()) {
      const result = settled[i];
      if (result.status === 'fulfilled') {
        computed.push(result.value);
        continue;
      }
      const error: unknown = result.reason;
      if (!(error instanceof InvalidHistoryError)) throw error;
      const message = `bars of ${symbol} refused: ${error.message}`;
      if (bySymbol.size === 1) throw new EventRejectedError(message, { cause: error });
      throw new Error(`${message}; the batch's events are retried one by one`, { cause: error });
    }

    // The next batch computes on top of this one. Should this batch's writes fail, its events come
    // back and recompute the same vectors from the same history, so nothing is lost.
    for (const c of computed) {
      this.histories.set(c.symbol, c.merged);
      this.states.set(
        c.symbol,
        c.perSet.map((p) => p.state),
      );
    }
    return { computed, computedAt };
  }

  /** Phase two: writes a computed batch in one insert per table, then announces it. */
  private async store({ computed, computedAt }: { computed: Computed[]; computedAt: Date }): Promise<RecomputeOutcome[]> {
    const vectors: VectorWrite[] = [];
    for (const c of computed) for (const p of c.perSet) if (p.count > 0) vectors.push(p.write);
    await Promise.all([
      this.deps.store.upsertBarsOf(
        computed.map((c) => ({ symbol: c.symbol, bars: c.incoming })),
        computedAt,
      ),
      this.deps.store.writeVectorsOf(vectors, computedAt),
    ]);

    const outcomes: RecomputeOutcome[] = [];
    const events: { symbol: string; msgId: string; event: ReturnType<typeof create<typeof FeaturesComputedSchema>> }[] = [];
    for (const c of computed) {
      for (const { set, count, firstDate, lastDate, latest } of c.perSet) {
        if (count === 0 || latest === undefined) continue;
        const vector = toFeatureVector(set, c.symbol, latest, computedAt);
        this.deps.online.put(set, vector);
        const outcome = { symbol: c.symbol, set: `${set.name}_v${set.version}`, firstDate, lastDate, vectors: count };
        outcomes.push(outcome);
        const event = create(FeaturesComputedSchema, {
          symbol: c.symbol,
          featureSet: { name: set.name, version: set.version },
          firstDate: toProtoDate(outcome.firstDate),
          lastDate: toProtoDate(outcome.lastDate),
          vectorCount: BigInt(outcome.vectors),
          latest: vector,
          batchId: c.batchId,
          occurredAt: timestampFromDate(computedAt),
        });
        const digest = createHash('sha256')
          .update(`${c.batchId}|${outcome.firstDate}|${outcome.lastDate}|${outcome.vectors}`)
          .digest('base64url')
          .slice(0, 16);
        events.push({ symbol: c.symbol, msgId: `features.computed:${outcome.set}:${c.symbol}:${digest}`, event });
      }
    }
    await this.publish(events);
    return outcomes;
  }

  /**
   * One symbol's new history and the vectors from its earliest incoming day on, per set: resumed
   * here after an append, else on the pool when there is one.
   */
  private async compute(symbol: string, incoming: DailyBar[], batchId: string, computedAt: Date): Promise<Computed> {
    const history = this.histories.get(symbol) ?? PackedHistory.EMPTY;
    const sorted = sortedDays(incoming);
    const last = history.lastDate();
    // Only an append after the last known day can resume; anything else starts from the first bar.
    const appended = last !== undefined && sorted[0].date > last;
    const from = appended ? history.length : lowerBound(history, sorted[0].date);
    const merged = appended ? history.append(sorted) : PackedHistory.of(mergeBars(history.bars(), sorted));
    const { pool, sets } = this.deps;
    const states = appended ? this.states.get(symbol) : undefined;
    // A bar that cannot be packed fails validation: the computation on these objects says where.
    if (!merged) {
      const bars = appended ? [...history.bars(), ...sorted] : mergeBars(history.bars(), sorted);
      for (const [i, set] of sets.entries()) set.computeFrom(bars, from, states?.[i]);
      throw new Error(`bars of ${symbol} could not be kept although the feature sets accepted them`);
    }
    if (pool && !states && sets.every((set) => VectorPool.handles(set))) {
      const outcomes = await pool.compute(symbol, sets, merged.packed(), from, computedAt);
      const perSet = sets.map((set, i): SetVectors => {
        const { count, firstDate, lastDate, latest, state, encoded } = outcomes[i];
        const pieces = encoded.map((piece) => Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        return { set, state, count, firstDate, lastDate, latest, write: { encoded: pieces, count } };
      });
      return { symbol, batchId, incoming, merged, perSet };
    }
    // Resuming reads only the bars the sets' windows reach: only those are unpacked.
    const reach = states ? Math.max(...sets.map((set) => set.resumeLookback ?? Number.POSITIVE_INFINITY)) : Number.POSITIVE_INFINITY;
    const bars = merged.bars(from >= reach ? from - reach : 0);
    const perSet = sets.map((set, i): SetVectors => {
      const { rows, state } = set.computeFrom(bars, from, states?.[i]);
      const latest = rows.length > 0 ? rows[rows.length - 1] : undefined;
      const range = { count: rows.length, firstDate: rows[0]?.date ?? '', lastDate: latest?.date ?? '' };
      return { set, state, ...range, latest, write: { set, symbol, rows } };
    });
    return { symbol, batchId, incoming, merged, perSet };
  }

  /** Publishes events side by side: a PubAck round trip each would otherwise add up over a batch. */
  private async publish(
    events: readonly { symbol: string; msgId: string; event: ReturnType<typeof create<typeof FeaturesComputedSchema>> }[],
  ): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < events.length) {
        const { symbol, msgId, event } = events[next++];
        // A lost PubAck is retried here (the msgId makes a second copy a no-op): failing would
        // send the whole batch back to be recomputed and rewritten one event at a time.
        for (let attempt = 1; ; attempt++) {
          try {
            await this.deps.events.publish(MeshEvents.featuresComputed, symbol, event, { msgId });
            break;
          } catch (error) {
            if (attempt === PUBLISH_ATTEMPTS) throw error;
            this.deps.logger.warn({ err: error, symbol, attempt }, 'FeaturesComputed not acknowledged; publishing again');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_CONCURRENCY, events.length) }, worker));
  }
}

/** Index of the first bar of `history` dated on or after `date`. */
function lowerBound(history: PackedHistory, date: string): number {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (history.date(mid) < date) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Incoming bars in date order, one per day (the last given for a day wins). */
function sortedDays(incoming: readonly DailyBar[]): DailyBar[] {
  let ordered = true;
  for (let i = 1; i < incoming.length && ordered; i++) ordered = incoming[i - 1].date < incoming[i].date;
  // Ingestion sends bars in order: no map or sort for them.
  if (ordered) return [...incoming];
  const byDate = new Map<string, DailyBar>();
  for (const bar of incoming) byDate.set(bar.date, bar);
  return [...byDate.values()].sort((a, b) => (a.date < b.date ? -1 : 1));
}

/** A new sorted history: `history` with `incoming` added, a bar of an existing day replacing it. */
export function mergeBars(history: readonly DailyBar[], incoming: readonly DailyBar[]): DailyBar[] {
  const sortedIncoming = sortedDays(incoming);
  // The common case is bars appended after the last known day: no full re-sort needed.
  if (history.length === 0 || sortedIncoming[0].date > history[history.length - 1].date) return [...history, ...sortedIncoming];
  const days = new Set(sortedIncoming.map((bar) => bar.date));
  const merged = history.filter((bar) => !days.has(bar.date));
  merged.push(...sortedIncoming);
  return merged.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}
