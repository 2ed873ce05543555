import { parseDateTime, type Migration, type Store } from '../../lib/store/index.js';
import type { BarRecord } from './bar.js';
import { barsRowBinary, type StoredBars } from './bar-rows.js';

/** The ingestion service's own tables: bars, and the outbox of events not yet acknowledged by NATS. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: '001_bars',
    statements: [
      // One row per (symbol, trading day): re-ingesting a bar replaces it, the newest version wins.
      `CREATE TABLE IF NOT EXISTS bars (
        symbol LowCardinality(String),
        date Date,
        open Float64,
        high Float64,
        low Float64,
        close Float64,
        volume Float64,
        turnover Nullable(Float64),
        trades Nullable(UInt32),
        ingested_at DateTime64(6, 'UTC')
      ) ENGINE = ReplacingMergeTree(ingested_at)
      ORDER BY (symbol, date)`,
    ],
  },
  {
    id: '002_event_outbox',
    statements: [
      // An event is recorded here before the bars it announces are written, and marked sent once
      // JetStream acknowledges it, so a crash or a NATS outage between the two never loses an
      // event. Only the event's coordinates are kept: the relay re-reads the bars to rebuild it.
      `CREATE TABLE IF NOT EXISTS event_outbox (
        msg_id String,
        symbol LowCardinality(String),
        first_date Date,
        last_date Date,
        bars_new UInt32,
        bars_changed UInt32,
        part UInt32,
        part_count UInt32,
        batch_id String,
        source String,
        sent UInt8,
        created_at DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree(sent)
      ORDER BY msg_id
      TTL toDateTime(created_at) + INTERVAL 7 DAY`,
    ],
  },
];

/** A symbol's coverage, as ListSymbols reports it. */
export interface SymbolSummary {
  symbol: string;
  firstDate: string;
  lastDate: string;
  bars: number;
  lastBar: BarRecord;
  /** When a bar of the symbol was last written. */
  updatedAt: Date;
}

/** A BarsIngested event recorded in the outbox: where its bars are, not the bars themselves. */
export interface OutboxEntry {
  msgId: string;
  symbol: string;
  firstDate: string;
  lastDate: string;
  barsNew: number;
  barsChanged: number;
  part: number;
  partCount: number;
  batchId: string;
  source: string;
  /** When the entry was recorded; its bars carry this time or a later one as `ingested_at`. */
  createdAt?: Date;
}

interface BarRow {
  symbol: string;
  day: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  turnover: number | null;
  trades: number | null;
}

// The day is selected under another name: an alias `date` would shadow the column in WHERE.
const BAR_COLUMNS = 'symbol, toString(date) AS day, open, high, low, close, volume, turnover, trades';

const fromRow = (row: BarRow): BarRecord => ({
  symbol: row.symbol,
  date: row.day,
  open: row.open,
  high: row.high,
  low: row.low,
  close: row.close,
  volume: row.volume,
  turnover: row.turnover ?? undefined,
  trades: row.trades ?? undefined,
});

/**
 * The ingestion service's SQL, in one place. It also keeps the latest stored day of every symbol
 * it has seen (read once per symbol, then advanced by its own inserts), so that bars after that
 * day are known to be new without reading anything back: the common case of a daily append, or
 * of a first import. This holds because one process owns the bars table (see CommitGate).
 */
export class BarStore {
  /** Latest stored day per symbol, `YYYY-MM-DD`; '' for a symbol with no bars. */
  readonly #latest = new Map<string, string>();
  /**
   * Outbox entries found without their bars (the bars' write failed after the entry's, e.g. on a
   * full disk), by message id: left out of {@link unsent} so they never hold up the entries behind
   * them, until a commit records the same event again.
   */
  readonly #orphans = new Set<string>();

  constructor(private readonly store: Store) {}

  /** The latest stored day of each symbol ('' when it has none), read from the table only for symbols not yet known. */
  async latestDays(symbols: readonly string[]): Promise<Map<string, string>> {
    const unknown = symbols.filter((s) => !this.#latest.has(s));
    if (unknown.length > 0) {
      const rows = await this.store.query<{ symbol: string; last: string }>(
        `SELECT symbol, toString(max(date)) AS last FROM bars WHERE symbol IN {symbols:Array(String)} GROUP BY symbol`,
        { symbols: unknown },
      );
      for (const s of unknown) this.#latest.set(s, '');
      for (const r of rows) this.#latest.set(r.symbol, r.last);
    }
    return new Map(symbols.map((s) => [s, this.#latest.get(s) ?? '']));
  }

  /** Stored bars of these symbols between two days (inclusive), as columns per symbol. */
  async storedBars(symbols: readonly string[], from: string, to: string): Promise<Map<string, StoredBars>> {
    const rows = await this.store.query<{ symbol: string; days: string[] } & Omit<StoredBars, 'index'>>(
      `SELECT symbol, groupArray(day) AS days, groupArray(open) AS open, groupArray(high) AS high, groupArray(low) AS low,
              groupArray(close) AS close, groupArray(volume) AS volume, groupArray(ifNull(turnover, -1)) AS turnover,
              groupArray(ifNull(toInt64(trades), -1)) AS trades
       FROM (SELECT symbol, toString(date) AS day, open, high, low, close, volume, turnover, trades FROM bars FINAL
             WHERE symbol IN {symbols:Array(String)} AND date BETWEEN {from:Date} AND {to:Date})
       GROUP BY symbol`,
      { symbols, from, to },
    );
    const out = new Map<string, StoredBars>();
    for (const { symbol, days, ...columns } of rows) {
      const index = new Map<string, number>();
      for (let i = 0; i < days.length; i++) index.set(days[i], i);
      out.set(symbol, { index, ...columns });
    }
    return out;
  }

  /** Writes bars in one INSERT; a bar of an existing (symbol, date) replaces the old one. */
  async insert(bars: readonly BarRecord[], ingestedAt = new Date()): Promise<void> {
    try {
      await this.store.insertEncoded('bars', barsRowBinary(bars, ingestedAt));
    } catch (error) {
      // A failed insert may still have landed: read these symbols' latest days afresh next time.
      for (const bar of bars) this.#latest.delete(bar.symbol);
      throw error;
    }
    for (const bar of bars) {
      const latest = this.#latest.get(bar.symbol);
      if (latest !== undefined && bar.date > latest) this.#latest.set(bar.symbol, bar.date);
    }
  }

  /** A page of one symbol's bars in date order, starting after `afterDate` (exclusive). */
  async page(symbol: string, from: string, to: string, afterDate: string | undefined, limit: number): Promise<BarRecord[]> {
    const rows = await this.store.query<BarRow>(
      `SELECT ${BAR_COLUMNS} FROM bars FINAL
       WHERE symbol = {symbol:String} AND date BETWEEN {from:Date} AND {to:Date} AND date > {after:Date}
       ORDER BY date LIMIT {limit:UInt32}`,
      { symbol, from, to, after: afterDate ?? '1970-01-01', limit },
    );
    return rows.map(fromRow);
  }

  /** Symbols after `afterSymbol` in name order, with their coverage and latest bar. */
  async symbols(afterSymbol: string, limit: number): Promise<SymbolSummary[]> {
    const rows = await this.store.query<
      { symbol: string; first: string; last: string; bars: number; updated: string } & Record<`last_${string}`, number | null>
    >(
      `SELECT symbol, toString(min(date)) AS first, toString(max(date)) AS last, count() AS bars,
              toString(max(ingested_at)) AS updated,
              argMax(open, date) AS last_open, argMax(high, date) AS last_high, argMax(low, date) AS last_low,
              argMax(close, date) AS last_close, argMax(volume, date) AS last_volume,
              argMax(turnover, date) AS last_turnover, argMax(trades, date) AS last_trades
       FROM bars FINAL WHERE symbol > {after:String}
       GROUP BY symbol ORDER BY symbol LIMIT {limit:UInt32}`,
      { after: afterSymbol, limit },
    );
    return rows.map((r) => ({
      symbol: r.symbol,
      firstDate: r.first,
      lastDate: r.last,
      bars: Number(r.bars),
      updatedAt: parseDateTime(r.updated),
      lastBar: fromRow({
        symbol: r.symbol,
        day: r.last,
        open: Number(r.last_open),
        high: Number(r.last_high),
        low: Number(r.last_low),
        close: Number(r.last_close),
        volume: Number(r.last_volume),
        turnover: r.last_turnover,
        trades: r.last_trades,
      }),
    }));
  }

  /** Whether any bar of the symbol is stored. */
  async hasSymbol(symbol: string): Promise<boolean> {
    const rows = await this.store.query<{ n: number }>(
      `SELECT count() AS n FROM (SELECT 1 FROM bars WHERE symbol = {symbol:String} LIMIT 1)`,
      { symbol },
    );
    return Number(rows[0]?.n ?? 0) > 0;
  }

  /**
   * Records events in the outbox as unsent, at `createdAt`: the bars they announce must then be
   * inserted with that time (or a later one) as `ingested_at`, see {@link barsWritten}.
   */
  async enqueue(entries: readonly OutboxEntry[], createdAt = new Date()): Promise<void> {
    await this.store.insert(
      'event_outbox',
      entries.map((e) => outboxRow(e, 0, createdAt)),
    );
    for (const e of entries) this.#orphans.delete(e.msgId);
  }

  /**
   * Whether the bars an outbox entry announces were written: as many bars of its symbol and range
   * stored at or after the entry's creation as it carries. False when the insert that should have
   * followed the entry failed (nothing of it is stored, since one insert lands whole or not at all).
   */
  async barsWritten(entry: OutboxEntry): Promise<boolean> {
    if (entry.createdAt === undefined) return true;
    const rows = await this.store.query<{ n: number }>(
      `SELECT count() AS n FROM bars FINAL
       WHERE symbol = {symbol:String} AND date BETWEEN {from:Date} AND {to:Date} AND ingested_at >= {since:DateTime64(3, 'UTC')}`,
      { symbol: entry.symbol, from: entry.firstDate, to: entry.lastDate, since: entry.createdAt },
    );
    return Number(rows[0]?.n ?? 0) >= entry.barsNew + entry.barsChanged;
  }

  /** Leaves an entry whose bars were never written out of {@link unsent} until it is recorded again. */
  setAside(entry: OutboxEntry): void {
    this.#orphans.add(entry.msgId);
  }

  /** Marks events as acknowledged by JetStream. */
  async markSent(entries: readonly OutboxEntry[]): Promise<void> {
    await this.store.insert(
      'event_outbox',
      entries.map((e) => outboxRow(e, 1)),
    );
  }

  /** Events still waiting for an acknowledgement, oldest first, leaving out those of `skipSymbols`. */
  async unsent(limit: number, skipSymbols: readonly string[] = []): Promise<OutboxEntry[]> {
    const rows = await this.store.query<Record<string, string | number>>(
      `SELECT msg_id, symbol, toString(first_date) AS first, toString(last_date) AS last, bars_new, bars_changed,
              part, part_count, batch_id, source, toString(created_at) AS created
       FROM event_outbox FINAL WHERE sent = 0 AND symbol NOT IN {skip:Array(String)} AND msg_id NOT IN {orphans:Array(String)}
       ORDER BY created_at LIMIT {limit:UInt32}`,
      { limit, skip: skipSymbols, orphans: [...this.#orphans] },
    );
    return rows.map((r) => ({
      msgId: String(r.msg_id),
      symbol: String(r.symbol),
      firstDate: String(r.first),
      lastDate: String(r.last),
      barsNew: Number(r.bars_new),
      barsChanged: Number(r.bars_changed),
      part: Number(r.part),
      partCount: Number(r.part_count),
      batchId: String(r.batch_id),
      source: String(r.source),
      createdAt: parseDateTime(String(r.created)),
    }));
  }

  /** Which of these events are still unsent, read again (another writer may have sent them since). */
  async stillUnsent(msgIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.store.query<{ msg_id: string }>(
      `SELECT msg_id FROM event_outbox FINAL WHERE msg_id IN {ids:Array(String)} AND sent = 0`,
      { ids: msgIds },
    );
    return new Set(rows.map((r) => r.msg_id));
  }
}

const outboxRow = (e: OutboxEntry, sent: 0 | 1, createdAt = new Date()) => ({
  msg_id: e.msgId,
  symbol: e.symbol,
  first_date: e.firstDate,
  last_date: e.lastDate,
  bars_new: e.barsNew,
  bars_changed: e.barsChanged,
  part: e.part,
  part_count: e.partCount,
  batch_id: e.batchId,
  source: e.source,
  sent,
  created_at: createdAt,
});
