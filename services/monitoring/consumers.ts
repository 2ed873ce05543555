/**
 * The two inputs: PredictionsMade (what was predicted, with the feature vectors and latencies) and
 * BarsIngested (what happened). Each feeds its table, then scores what became scorable.
 *
 * PredictionsMade come in batches: a prediction service under load sends thousands of small events
 * a second, and the cost of a store write is per INSERT, not per row (a one-row insert into chdb
 * takes about as long as a thousand-row one). So each batch of events is one INSERT of
 * predictions, one of latency samples, and one scoring pass; its messages are acked only after all
 * of them succeeded. A redelivered batch writes the same rows again and counts no score twice.
 */
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { BarsIngested, PredictionsMade } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { BatchItem, Delivery, EventBus, EventSubscription } from '../../lib/events/index.js';
import { isoDate, isValidSymbol, normaliseSymbol } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { ModelsSeen } from './models-seen.js';
import type { Scorer } from './scorer.js';
import { scoreKey, type MonitoringStore, type PredictionRow } from './store.js';

/** Durable consumer names: one per event, shared by every monitoring replica. */
export const PREDICTIONS_DURABLE = 'monitoring-predictions';
export const BARS_DURABLE = 'monitoring-bars';

/** Prediction keys remembered as stored, to skip re-writing an identical prediction served again. */
const REMEMBERED_KEYS = 200_000;

/** PredictionsMade events handled together at most: one INSERT of up to this many events' predictions. */
export const PREDICTIONS_BATCH = 1000;
/** Bytes of PredictionsMade payloads handled together at most (an event holds up to 1,000 predictions). */
const PREDICTIONS_BATCH_BYTES = 8 * 1024 * 1024;

/** What the consumers need. */
export interface ConsumerDeps {
  events: EventBus;
  store: MonitoringStore;
  scorer: Scorer;
  models: ModelsSeen;
  logger: Logger;
  /** Called after new data was stored (schedules an evaluation). */
  onData: () => void;
  /** Batches of PredictionsMade handled at once. */
  concurrency: number;
}

const dayOfDate = (d: { year: number; month: number; day: number } | undefined) => (d ? isoDate(d.year, d.month, d.day) : undefined);
const finite = (...xs: number[]) => xs.every(Number.isFinite);

/** A cheap fingerprint of what a stored prediction row holds besides its key. */
function fingerprint(p: PredictionRow): string {
  let sum = 0;
  for (let i = 0; i < p.features.length; i++) sum += p.features[i] * (i + 1);
  return `${p.predictedReturn}|${p.predictedClose}|${p.baseClose}|${p.features.length}|${sum}`;
}

/** One PredictionsMade with what the intake reads of its delivery. */
export type PredictionsItem = Pick<BatchItem<PredictionsMade>, 'message'> & { delivery: Pick<Delivery, 'msgId' | 'seq' | 'publishedAt'> };

/** PredictionsMade → predictions (one row per key), latency samples, scores. */
export class PredictionIntake {
  /** key → fingerprint of what is stored: a streaming client's repeats cost no write. */
  private readonly stored = new Map<string, string>();

  constructor(private readonly deps: ConsumerDeps) {}

  /** Handles one event; idempotent (a redelivery rewrites the same rows). */
  handle(event: PredictionsMade, delivery: Pick<Delivery, 'msgId' | 'seq' | 'publishedAt'>): Promise<void> {
    return this.handleBatch([{ message: event, delivery }]);
  }

  /**
   * Handles a batch of events with one write per table and one scoring pass; idempotent (a
   * redelivery rewrites the same rows and scores nothing twice). Rejects when any write fails,
   * and then remembers nothing of the batch, so its redelivery writes and scores all of it again.
   */
  async handleBatch(items: readonly PredictionsItem[]): Promise<void> {
    const latest = new Map<string, PredictionRow>();
    // One latency row per event and model version: a redelivered event replaces its own row.
    const latencies = new Map<string, { modelName: string; modelVersion: number; eventId: string; latencies: number[]; at: number }>();
    let skipped = 0;
    for (const { message: event, delivery } of items) {
      const eventId = delivery.msgId ?? `seq:${delivery.seq}`;
      skipped += this.collect(event, delivery, eventId, latest, latencies);
    }
    if (skipped)
      this.deps.logger.warn(
        { skipped, events: items.length, firstSeq: items[0]?.delivery.seq },
        'predictions without a model, a valid symbol, day or finite prices were skipped',
      );

    const fresh = [...latest].filter(([key, row]) => this.stored.get(key) !== fingerprint(row)).map(([, row]) => row);
    await Promise.all([
      fresh.length ? this.deps.store.insertPredictions(fresh) : undefined,
      latencies.size ? this.deps.store.insertLatencies([...latencies.values()].map((g) => ({ ...g, at: new Date(g.at) }))) : undefined,
    ]);
    for (const row of latest.values()) this.deps.models.observe(row.modelName, row.modelVersion, row.occurredAt.getTime(), row.shadow);
    if (fresh.length) {
      const symbols = [...new Set(fresh.map((r) => r.symbol))];
      const from = fresh.reduce((min, r) => (r.featureDate < min ? r.featureDate : min), fresh[0].featureDate);
      await this.deps.scorer.scoreSymbols(symbols, from);
    }
    // Only now: a batch that failed before scoring must find its rows fresh when it comes back.
    for (const row of fresh) this.remember(scoreKey(row.modelName, row.modelVersion, row.symbol, row.featureDate), fingerprint(row));
    this.deps.onData();
  }

  /** Adds one event's valid predictions (the latest per key) and latencies; returns how many were skipped. */
  private collect(
    event: PredictionsMade,
    delivery: Pick<Delivery, 'publishedAt'>,
    eventId: string,
    latest: Map<string, PredictionRow>,
    latencies: Map<string, { modelName: string; modelVersion: number; eventId: string; latencies: number[]; at: number }>,
  ): number {
    let skipped = 0;
    for (const p of event.predictions) {
      const symbol = normaliseSymbol(p.symbol);
      const featureDate = dayOfDate(p.featureDate);
      if (
        !p.modelName ||
        p.modelVersion < 1 ||
        !isValidSymbol(symbol) ||
        !featureDate ||
        !finite(p.predictedReturn, p.predictedClose, p.baseClose) ||
        p.baseClose <= 0
      ) {
        skipped++;
        continue;
      }
      const occurredAt = p.occurredAt ? timestampDate(p.occurredAt) : delivery.publishedAt;
      const row: PredictionRow = {
        modelName: p.modelName,
        modelVersion: p.modelVersion,
        symbol,
        featureDate,
        predictionId: p.predictionId,
        predictedReturn: p.predictedReturn,
        predictedClose: p.predictedClose,
        baseClose: p.baseClose,
        // A vector with a non-finite value cannot be stored as numbers; without it, drift leaves it out.
        features: p.features.every(Number.isFinite) ? [...p.features] : [],
        degraded: p.degraded,
        instanceId: p.instanceId,
        occurredAt,
        shadow: p.shadow,
      };
      const key = scoreKey(row.modelName, row.modelVersion, symbol, featureDate);
      const before = latest.get(key);
      if (!before || before.occurredAt <= occurredAt) latest.set(key, row);
      const versionKey = `${eventId}|${row.modelName}@${row.modelVersion}`;
      const group = latencies.get(versionKey) ?? {
        modelName: row.modelName,
        modelVersion: row.modelVersion,
        eventId,
        latencies: [],
        at: 0,
      };
      if (Number.isFinite(p.latencyMs) && p.latencyMs >= 0) group.latencies.push(p.latencyMs);
      group.at = Math.max(group.at, occurredAt.getTime());
      latencies.set(versionKey, group);
    }
    return skipped;
  }

  private remember(key: string, print: string): void {
    this.stored.delete(key);
    this.stored.set(key, print);
    // Oldest first: Map iteration follows insertion order, and a re-stored key was moved to the end.
    if (this.stored.size > REMEMBERED_KEYS)
      for (const k of this.stored.keys()) if (this.stored.delete(k) && this.stored.size <= REMEMBERED_KEYS * 0.9) break;
  }
}

/** BarsIngested → actual closes, and the scores of predictions targeting them. */
export async function handleBars(
  deps: Pick<ConsumerDeps, 'store' | 'scorer' | 'onData' | 'logger'>,
  event: BarsIngested,
  delivery: Pick<Delivery, 'publishedAt'>,
): Promise<void> {
  const symbol = normaliseSymbol(event.symbol);
  if (!isValidSymbol(symbol)) return;
  const bars: { date: string; close: number }[] = [];
  for (const bar of event.bars) {
    const date = dayOfDate(bar.date);
    if (date && Number.isFinite(bar.close) && bar.close > 0) bars.push({ date, close: bar.close });
  }
  if (bars.length === 0) return;
  await deps.store.insertActuals(symbol, bars, event.occurredAt ? timestampDate(event.occurredAt) : delivery.publishedAt);
  // A new bar on day T is the target of predictions from the previous bar's day on; earlier ones
  // target earlier bars and are unaffected.
  const first = bars.reduce((min, b) => (b.date < min ? b.date : min), bars[0].date);
  const from = (await deps.store.barDayBefore(symbol, first)) ?? '1970-01-01';
  await deps.scorer.scoreSymbols([symbol], from);
  deps.onData();
}

/** Starts both durable consumers. */
export async function startConsumers(deps: ConsumerDeps): Promise<EventSubscription[]> {
  const intake = new PredictionIntake(deps);
  const predictions = await deps.events.consumeBatches(
    MeshEvents.predictionsMade,
    {
      durable: PREDICTIONS_DURABLE,
      concurrency: deps.concurrency,
      ackWaitMs: 60_000,
      maxBatch: PREDICTIONS_BATCH,
      maxBatchBytes: PREDICTIONS_BATCH_BYTES,
      // Room for full batches in flight and the next ones arriving (the server's default, 1,000, would cap a batch well below PREDICTIONS_BATCH).
      maxAckPending: PREDICTIONS_BATCH * (deps.concurrency + 2),
    },
    (items) => intake.handleBatch(items),
  );
  try {
    const bars = await deps.events.consume(MeshEvents.barsIngested, { durable: BARS_DURABLE, ackWaitMs: 60_000 }, (event, delivery) =>
      handleBars(deps, event, delivery),
    );
    return [predictions, bars];
  } catch (error) {
    await predictions.stop();
    throw error;
  }
}
