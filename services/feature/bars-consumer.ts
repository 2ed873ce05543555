import type { BarsIngested } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { EventBus, EventSubscription } from '../../lib/events/index.js';
import { isoDate } from '../../lib/market/index.js';
import type { DailyBar } from './feature-sets/index.js';
import type { FeatureEngine } from './recompute.js';

/** The durable consumer of BarsIngested that keeps the feature service's history and vectors. */
export const BARS_DURABLE = 'feature-bars';

/** The bars an event carries, as the feature sets read them (bars without a real day are skipped). */
export function barsOf(event: BarsIngested): DailyBar[] {
  const bars: DailyBar[] = [];
  for (const bar of event.bars) {
    const date = bar.date && isoDate(bar.date.year, bar.date.month, bar.date.day);
    if (!date) continue;
    bars.push({ date, open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume, turnover: bar.turnover });
  }
  return bars;
}

/**
 * Subscribes the engine to BarsIngested in batches of up to `maxBatch` events (what has arrived
 * while the previous batch was handled): a day's close for every listed company arrives as one
 * event per symbol, and their histories, bars and vectors are then read and written once per
 * batch instead of once per symbol. Batches compute in stream order, so a symbol's events apply in order.
 */
export function consumeBars(events: EventBus, engine: FeatureEngine, maxBatch: number): Promise<EventSubscription> {
  // Two batches in hand: the engine computes them in order, and one's writes overlap the other's computation.
  return events.consumeBatches(
    MeshEvents.barsIngested,
    { durable: BARS_DURABLE, maxBatch, concurrency: 2, ackWaitMs: 60_000 },
    async (items) => {
      await engine.applyBatch(items.map(({ message }) => ({ symbol: message.symbol, bars: barsOf(message), batchId: message.batchId })));
    },
  );
}
