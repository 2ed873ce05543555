import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BarsIngestedSchema, type BarsIngested } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { EventBus } from '../../lib/events/index.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { BarRecord } from './bar.js';
import { sameAsStored, type StoredBars } from './bar-rows.js';
import type { CommitGate } from './commit-gate.js';
import { toProtoBar } from './convert.js';
import type { BarStore, OutboxEntry } from './store.js';

/** Bars per BarsIngested event; a larger change of one symbol is split into parts. */
export const BARS_PER_EVENT = 5000;

/** What committing a batch changed. */
export interface BatchOutcome {
  newBars: number;
  changedBars: number;
  unchangedBars: number;
  symbols: string[];
}

/** What committing needs. */
export interface CommitDeps {
  bars: BarStore;
  events: EventBus;
  logger: Logger;
  /** Takes turns per symbol between commits and the outbox relay; one per process. */
  gate: CommitGate;
}

/**
 * Stores the bars of a batch that are new or differ from what is stored, and announces them:
 * one BarsIngested per symbol (split above {@link BARS_PER_EVENT}). Bars identical to the stored
 * ones are neither written nor announced, so re-ingesting the same data changes nothing and sends
 * nothing. Each event is recorded in the outbox before the bars are written and marked sent on
 * JetStream's ack; the relay re-sends what NATS did not take, and only events whose bars were written. Its `Nats-Msg-Id` hashes the bars it
 * carries.
 *
 * From reading the stored bars to marking the events sent, the batch holds its symbols in the
 * gate: a concurrent commit of the same symbols waits and then finds these bars stored (so the
 * counts of both add up to what was written, and only one announces them), and the relay never
 * picks up an event that is still being published.
 */
export async function commitBatch(deps: CommitDeps, batch: readonly BarRecord[], batchId: string, source: string): Promise<BatchOutcome> {
  // The last bar of each (symbol, date) wins; grouping by symbol first avoids a key per bar.
  const bySymbol = new Map<string, Map<string, BarRecord>>();
  let from = '9999-12-31';
  let to = '0000-01-01';
  for (const bar of batch) {
    let days = bySymbol.get(bar.symbol);
    if (!days) bySymbol.set(bar.symbol, (days = new Map()));
    days.set(bar.date, bar);
    if (bar.date < from) from = bar.date;
    if (bar.date > to) to = bar.date;
  }
  if (bySymbol.size === 0) return { newBars: 0, changedBars: 0, unchangedBars: 0, symbols: [] };
  const symbols = [...bySymbol.keys()].sort();
  return deps.gate.withSymbols(symbols, () => commitHeld(deps, bySymbol, { symbols, from, to, batchId, source }));
}

/** The part of {@link commitBatch} that runs while the batch's symbols are held. */
async function commitHeld(
  deps: CommitDeps,
  bySymbol: Map<string, Map<string, BarRecord>>,
  { symbols, from, to, batchId, source }: { symbols: string[]; from: string; to: string; batchId: string; source: string },
): Promise<BatchOutcome> {
  // Bars after a symbol's latest stored day are new without reading anything back; only the
  // symbols with bars on or before it are compared with what is stored, up to that day.
  const latest = await deps.bars.latestDays(symbols);
  const overlapping: string[] = [];
  let readTo = '';
  for (const [symbol, days] of bySymbol) {
    const last = latest.get(symbol) ?? '';
    if (last === '') continue;
    for (const date of days.keys()) {
      if (date > last) continue;
      overlapping.push(symbol);
      if (last > readTo) readTo = last;
      break;
    }
  }
  const stored =
    overlapping.length > 0 ? await deps.bars.storedBars(overlapping, from, readTo < to ? readTo : to) : new Map<string, StoredBars>();

  // Per symbol: the bars to write, each with whether it replaces a stored one.
  const changes = new Map<string, { bars: BarRecord[]; replaces: boolean[] }>();
  let unchangedBars = 0;
  for (const [symbol, days] of bySymbol) {
    const before = stored.get(symbol);
    for (const bar of days.values()) {
      const at = before?.index.get(bar.date);
      if (at !== undefined && sameAsStored(before!, at, bar)) {
        unchangedBars++;
        continue;
      }
      let change = changes.get(symbol);
      if (!change) changes.set(symbol, (change = { bars: [], replaces: [] }));
      change.bars.push(bar);
      change.replaces.push(at !== undefined);
    }
  }
  const outcome: BatchOutcome = { newBars: 0, changedBars: 0, unchangedBars, symbols };
  if (changes.size === 0) return outcome;

  const pending: { entry: OutboxEntry; event: BarsIngested }[] = [];
  const written: BarRecord[] = [];
  for (const [symbol, change] of changes) {
    const { bars, replaces } = inDateOrder(change);
    written.push(...bars);
    const partCount = Math.ceil(bars.length / BARS_PER_EVENT);
    for (let part = 1; part <= partCount; part++) {
      const start = (part - 1) * BARS_PER_EVENT;
      const slice = bars.slice(start, start + BARS_PER_EVENT);
      let barsChanged = 0;
      for (let i = start; i < start + slice.length; i++) if (replaces[i]) barsChanged++;
      outcome.changedBars += barsChanged;
      outcome.newBars += slice.length - barsChanged;
      const entry: OutboxEntry = {
        msgId: `bars.ingested:${symbol}:${contentHash(slice)}`,
        symbol,
        firstDate: slice[0].date,
        lastDate: slice[slice.length - 1].date,
        barsNew: slice.length - barsChanged,
        barsChanged,
        part,
        partCount,
        batchId,
        source,
      };
      pending.push({ entry, event: barsIngested(entry, slice) });
    }
  }

  // Outbox first, bars second, both stamped with one time: if the bars' insert fails (a full disk,
  // an outage), the call fails with nothing visible, and the relay tells the entries it left from
  // announced bars by that time (BarStore.barsWritten) and never sends them. The other order could
  // leave bars stored that no event ever announces. A retry records the same entries again (their
  // ids hash the bars) and announces them once.
  const at = new Date();
  await deps.bars.enqueue(
    pending.map((p) => p.entry),
    at,
  );
  await deps.bars.insert(written, at);
  await publishPending(deps, pending);
  return outcome;
}

/** The event an outbox entry stands for, carrying its bars. */
export function barsIngested(entry: OutboxEntry, bars: readonly BarRecord[]): BarsIngested {
  return create(BarsIngestedSchema, {
    symbol: entry.symbol,
    firstDate: toProtoDate(entry.firstDate),
    lastDate: toProtoDate(entry.lastDate),
    barsNew: BigInt(entry.barsNew),
    barsChanged: BigInt(entry.barsChanged),
    bars: bars.map(toProtoBar),
    part: entry.part,
    partCount: entry.partCount,
    batchId: entry.batchId,
    source: entry.source,
    occurredAt: timestampFromDate(new Date()),
  });
}

/** The bars of one symbol sorted by date (usually they arrive sorted, and the check is cheap). */
function inDateOrder(change: { bars: BarRecord[]; replaces: boolean[] }): { bars: BarRecord[]; replaces: boolean[] } {
  const { bars, replaces } = change;
  let sorted = true;
  for (let i = 1; i < bars.length && sorted; i++) sorted = bars[i - 1].date < bars[i].date;
  if (sorted) return change;
  const order = bars.map((_, i) => i).sort((a, b) => (bars[a].date < bars[b].date ? -1 : 1));
  return { bars: order.map((i) => bars[i]), replaces: order.map((i) => replaces[i]) };
}

/** A short digest of the bars an event carries: the same bars give the same message id. */
function contentHash(bars: readonly BarRecord[]): string {
  const numbers = new Float64Array(bars.length * 7);
  let dates = '';
  for (let i = 0, at = 0; i < bars.length; i++) {
    const b = bars[i];
    numbers[at++] = b.open;
    numbers[at++] = b.high;
    numbers[at++] = b.low;
    numbers[at++] = b.close;
    numbers[at++] = b.volume;
    numbers[at++] = b.turnover ?? Number.NaN;
    numbers[at++] = b.trades ?? Number.NaN;
    dates += b.date;
  }
  return createHash('sha256').update(dates).update(numbers).digest('base64url').slice(0, 22);
}

/** Symbols whose events are published at the same time; each symbol's parts go out in order. */
export const PUBLISH_CONCURRENCY = 32;

/**
 * Publishes events and marks the acknowledged ones sent. Symbols are published side by side (a
 * PubAck round trip each would otherwise add up over a batch of many symbols), the parts of one
 * symbol one after another, so consumers see them in order. A failure stops further publishes,
 * leaves the rest in the outbox for the relay and is logged, not thrown: the bars are stored and
 * their events will follow.
 */
export async function publishPending(deps: CommitDeps, pending: readonly { entry: OutboxEntry; event: BarsIngested }[]): Promise<number> {
  const bySymbol = new Map<string, { entry: OutboxEntry; event: BarsIngested }[]>();
  for (const item of pending) {
    const list = bySymbol.get(item.entry.symbol);
    if (list) list.push(item);
    else bySymbol.set(item.entry.symbol, [item]);
  }
  const queue = [...bySymbol.values()];
  const sent: OutboxEntry[] = [];
  let failure: unknown;
  const worker = async () => {
    for (let list = queue.shift(); list !== undefined && failure === undefined; list = queue.shift()) {
      for (const { entry, event } of list) {
        try {
          await deps.events.publish(MeshEvents.barsIngested, entry.symbol, event, { msgId: entry.msgId });
        } catch (error) {
          failure ??= error;
          break;
        }
        sent.push(entry);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PUBLISH_CONCURRENCY, queue.length) }, worker));
  if (failure !== undefined) {
    deps.logger.warn(
      { err: failure, pending: pending.length - sent.length },
      'events not acknowledged; the outbox relay will re-send them',
    );
  }
  try {
    await deps.bars.markSent(sent);
  } catch (error) {
    // The bars are stored and announced: the call succeeded. The relay re-sends these events under
    // the same ids, which JetStream drops as duplicates.
    deps.logger.warn({ err: error, events: sent.length }, 'events sent but not marked so in the outbox');
  }
  return sent.length;
}
