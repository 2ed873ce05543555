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
import type { FeatureStore } from './store.js';
import { toFeatureVector } from './vectors.js';

/** What recomputing needs. */
export interface RecomputeDeps {
  store: FeatureStore;
  online: OnlineStore;
  events: EventBus;
  logger: Logger;
  sets: readonly FeatureSetDefinition[];
}

/** What one recomputation did, per feature set. */
export interface RecomputeOutcome {
  set: string;
  firstDate: string;
  lastDate: string;
  vectors: number;
}

/**
 * Keeps each symbol's history and recomputes its vectors when bars arrive. Incoming bars are
 * merged into the history (a bar of an existing day replaces it); every vector from the earliest
 * incoming day on is recomputed and rewritten, since each depends on all earlier bars (EMAs,
 * Wilder smoothing) and on nothing later. Earlier vectors are left as they are. Applying the same
 * bars again rewrites identical vectors, so a redelivered event is harmless.
 */
export class FeatureEngine {
  private readonly histories = new Map<string, DailyBar[]>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: RecomputeDeps) {}

  /** Applies bars of one symbol, one call per symbol at a time, in call order. */
  apply(symbol: string, bars: readonly DailyBar[], batchId: string): Promise<RecomputeOutcome[]> {
    const previous = this.queues.get(symbol) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.applyNow(symbol, bars, batchId));
    this.queues.set(symbol, next);
    void next.finally(() => {
      if (this.queues.get(symbol) === next) this.queues.delete(symbol);
    });
    return next;
  }

  private async applyNow(symbol: string, incoming: readonly DailyBar[], batchId: string): Promise<RecomputeOutcome[]> {
    if (incoming.length === 0) return [];
    const history = await this.historyOf(symbol);
    const merged = mergeBars(history, incoming);
    const from = incoming.reduce((min, b) => (b.date < min ? b.date : min), incoming[0].date);
    // Everything is computed before anything is stored: bars the feature sets refuse (they throw
    // InvalidHistoryError) leave no trace, and retrying cannot help, so the event is rejected.
    let computed: { set: FeatureSetDefinition; rows: FeatureRow[] }[];
    try {
      computed = this.deps.sets.map((set) => ({ set, rows: set.compute(merged) }));
    } catch (error) {
      if (error instanceof InvalidHistoryError) throw new EventRejectedError(`bars of ${symbol} refused: ${error.message}`, { cause: error });
      throw error;
    }
    await this.deps.store.upsertBars(symbol, incoming);
    this.histories.set(symbol, merged);

    const computedAt = new Date();
    const outcomes: RecomputeOutcome[] = [];
    for (const { set, rows } of computed) {
      const changed = rows.slice(lowerBound(rows, from));
      if (changed.length === 0) continue;
      await this.deps.store.writeVectors(set, symbol, changed, computedAt);
      const latest = toFeatureVector(set, symbol, rows[rows.length - 1], computedAt);
      this.deps.online.put(set, latest);
      const outcome = { set: `${set.name}_v${set.version}`, firstDate: changed[0].date, lastDate: changed[changed.length - 1].date, vectors: changed.length };
      outcomes.push(outcome);
      const event = create(FeaturesComputedSchema, {
        symbol,
        featureSet: { name: set.name, version: set.version },
        firstDate: toProtoDate(outcome.firstDate),
        lastDate: toProtoDate(outcome.lastDate),
        vectorCount: BigInt(outcome.vectors),
        latest,
        batchId,
        occurredAt: timestampFromDate(computedAt),
      });
      const digest = createHash('sha256').update(`${batchId}|${outcome.firstDate}|${outcome.lastDate}|${outcome.vectors}`).digest('base64url').slice(0, 16);
      await this.deps.events.publish(MeshEvents.featuresComputed, symbol, event, { msgId: `features.computed:${outcome.set}:${symbol}:${digest}` });
    }
    return outcomes;
  }

  private async historyOf(symbol: string): Promise<DailyBar[]> {
    const cached = this.histories.get(symbol);
    if (cached) return cached;
    const loaded = await this.deps.store.history(symbol);
    this.histories.set(symbol, loaded);
    return loaded;
  }
}

/** Index of the first row dated on or after `date` (rows sorted by date). */
function lowerBound(rows: readonly { date: string }[], date: string): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid].date < date) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A new sorted history: `history` with `incoming` added, a bar of an existing day replacing it. */
export function mergeBars(history: readonly DailyBar[], incoming: readonly DailyBar[]): DailyBar[] {
  const byDate = new Map<string, DailyBar>();
  for (const bar of incoming) byDate.set(bar.date, bar);
  const sortedIncoming = [...byDate.values()].sort((a, b) => (a.date < b.date ? -1 : 1));
  // The common case is bars appended after the last known day: no full re-sort needed.
  if (history.length === 0 || sortedIncoming[0].date > history[history.length - 1].date) return [...history, ...sortedIncoming];
  const merged = history.filter((bar) => !byDate.has(bar.date));
  merged.push(...sortedIncoming);
  return merged.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}
