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

/** Subscribes the engine to BarsIngested; events of different symbols are handled side by side. */
export function consumeBars(events: EventBus, engine: FeatureEngine, concurrency: number): Promise<EventSubscription> {
  return events.consume(MeshEvents.barsIngested, { durable: BARS_DURABLE, concurrency, ackWaitMs: 60_000 }, async (event) => {
    await engine.apply(event.symbol, barsOf(event), event.batchId);
  });
}
