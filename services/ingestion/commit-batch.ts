import { createHash } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { BarsIngestedSchema, type BarsIngested } from '../../gen/nepse/events/v1/events_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import type { EventBus } from '../../lib/events/index.js';
import { toProtoDate } from '../../lib/market/index.js';
import type { Logger } from '../../lib/telemetry/index.js';
import type { BarRecord } from './bar.js';
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
}

const sameBar = (a: BarRecord, b: BarRecord) =>
  a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume && a.turnover === b.turnover && a.trades === b.trades;

/**
 * Stores the bars of a batch that are new or differ from what is stored, and announces them:
 * one BarsIngested per symbol (split above {@link BARS_PER_EVENT}). Bars identical to the stored
 * ones are neither written nor announced, so re-ingesting the same data changes nothing and sends
 * nothing. Events go through the outbox: written before the bars, marked sent on JetStream's ack,
 * and re-sent by the relay if NATS was down. Their `Nats-Msg-Id` hashes the bars they carry, so a
 * re-send is dropped by JetStream's duplicate window.
 */
export async function commitBatch(deps: CommitDeps, batch: readonly BarRecord[], batchId: string, source: string): Promise<BatchOutcome> {
  const latest = new Map<string, BarRecord>();
  for (const bar of batch) latest.set(`${bar.symbol}|${bar.date}`, bar);
  if (latest.size === 0) return { newBars: 0, changedBars: 0, unchangedBars: 0, symbols: [] };

  const symbols = [...new Set([...latest.values()].map((b) => b.symbol))].sort();
  let from = '9999-12-31';
  let to = '0000-01-01';
  for (const bar of latest.values()) {
    if (bar.date < from) from = bar.date;
    if (bar.date > to) to = bar.date;
  }
  const stored = await deps.bars.existing(symbols, from, to);

  const changes = new Map<string, { bars: BarRecord[]; created: number; changed: number }>();
  let unchangedBars = 0;
  for (const [key, bar] of latest) {
    const before = stored.get(key);
    if (before && sameBar(before, bar)) {
      unchangedBars++;
      continue;
    }
    const entry = changes.get(bar.symbol) ?? { bars: [], created: 0, changed: 0 };
    entry.bars.push(bar);
    if (before) entry.changed++;
    else entry.created++;
    changes.set(bar.symbol, entry);
  }
  const outcome: BatchOutcome = { newBars: 0, changedBars: 0, unchangedBars, symbols };
  if (changes.size === 0) return outcome;

  const occurredAt = timestampFromDate(new Date());
  const outbox: OutboxEntry[] = [];
  const messages = new Map<string, BarsIngested>();
  const written: BarRecord[] = [];
  for (const [symbol, change] of changes) {
    outcome.newBars += change.created;
    outcome.changedBars += change.changed;
    change.bars.sort((a, b) => (a.date < b.date ? -1 : 1));
    written.push(...change.bars);
    const parts = Math.ceil(change.bars.length / BARS_PER_EVENT);
    for (let part = 0; part < parts; part++) {
      const slice = change.bars.slice(part * BARS_PER_EVENT, (part + 1) * BARS_PER_EVENT);
      const event = create(BarsIngestedSchema, {
        symbol,
        firstDate: toProtoDate(slice[0].date),
        lastDate: toProtoDate(slice[slice.length - 1].date),
        barsNew: BigInt(parts === 1 ? change.created : slice.filter((b) => !stored.has(`${b.symbol}|${b.date}`)).length),
        barsChanged: BigInt(parts === 1 ? change.changed : slice.filter((b) => stored.has(`${b.symbol}|${b.date}`)).length),
        bars: slice.map(toProtoBar),
        part: part + 1,
        partCount: parts,
        batchId,
        source,
        occurredAt,
      });
      const msgId = `bars.ingested:${symbol}:${contentHash(slice)}`;
      outbox.push({ msgId, key: symbol, payload: toBinary(BarsIngestedSchema, event) });
      messages.set(msgId, event);
    }
  }

  await deps.bars.enqueue(outbox);
  await deps.bars.insert(written);
  await publishOutbox(deps, outbox, messages);
  return outcome;
}

/** A short digest of the bars an event carries: the same bars give the same message id. */
function contentHash(bars: readonly BarRecord[]): string {
  const hash = createHash('sha256');
  for (const b of bars) hash.update(`${b.date},${b.open},${b.high},${b.low},${b.close},${b.volume},${b.turnover ?? ''},${b.trades ?? ''};`);
  return hash.digest('base64url').slice(0, 22);
}

/**
 * Publishes outbox entries and marks the acknowledged ones sent. A failure leaves the rest in the
 * outbox for the relay and is logged, not thrown: the bars are stored and the events will follow.
 */
export async function publishOutbox(deps: CommitDeps, entries: readonly OutboxEntry[], decoded?: ReadonlyMap<string, BarsIngested>): Promise<number> {
  const sent: OutboxEntry[] = [];
  try {
    for (const entry of entries) {
      const message = decoded?.get(entry.msgId) ?? fromBinary(BarsIngestedSchema, entry.payload);
      await deps.events.publish(MeshEvents.barsIngested, entry.key, message, { msgId: entry.msgId });
      sent.push(entry);
    }
  } catch (error) {
    deps.logger.warn({ err: error, pending: entries.length - sent.length }, 'events not acknowledged; the outbox relay will re-send them');
  }
  await deps.bars.markSent(sent);
  return sent.length;
}
