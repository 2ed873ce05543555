import { parseDateTime, RowBinaryWriter, type Migration, type Store } from '../../lib/store/index.js';
import type { DailyBar, FeatureRow } from './feature-sets/index.js';
import { encodeVectors, FEATURE_COLUMNS, vectorBytes } from './vector-rows.js';

/** The feature service's own tables: its copy of the bars it needs, and the offline feature store. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: '001_bars',
    statements: [
      // The history features are computed from, kept from BarsIngested events: the service never
      // reads the ingestion service's tables.
      `CREATE TABLE IF NOT EXISTS bars (
        symbol LowCardinality(String),
        date Date,
        open Float64,
        high Float64,
        low Float64,
        close Float64,
        volume Float64,
        turnover Nullable(Float64),
        updated_at DateTime64(6, 'UTC')
      ) ENGINE = ReplacingMergeTree(updated_at)
      ORDER BY (symbol, date)`,
    ],
  },
  {
    id: '002_features',
    statements: [
      // The offline store: one vector per (feature set, symbol, day); a recomputation replaces it.
      `CREATE TABLE IF NOT EXISTS features (
        set_name LowCardinality(String),
        set_version UInt32,
        symbol LowCardinality(String),
        date Date,
        close Float64,
        values Array(Float64),
        computed_at DateTime64(6, 'UTC')
      ) ENGINE = ReplacingMergeTree(computed_at)
      ORDER BY (set_name, set_version, symbol, date)`,
    ],
  },
];

/** A stored vector with the identity of its set. */
export interface StoredVector extends FeatureRow {
  symbol: string;
  computedAt: Date;
}

/** A labelled training example: the vector of day t and the close of the symbol's next trading day. */
export interface LabelledRow extends FeatureRow {
  symbol: string;
  nextDate: string;
  nextClose: number;
}

/**
 * Vectors to write: rows of one symbol and set computed on this thread, or vectors a worker thread
 * has already encoded (RowBinary pieces in {@link FEATURE_COLUMNS} order holding `count` rows).
 */
export type VectorWrite =
  { set: { name: string; version: number }; symbol: string; rows: readonly FeatureRow[] } | { encoded: readonly Buffer[]; count: number };

/** Largest first piece of an insert's payload, bytes (a piece grows no further; the next one starts). */
const PIECE_BYTES = 4 << 20;
const BAR_COLUMNS = ['symbol', 'date', 'open', 'high', 'low', 'close', 'volume', 'turnover', 'updated_at'];

/** The feature service's SQL, in one place. */
export class FeatureStore {
  constructor(private readonly store: Store) {}

  /** Writes (or replaces) bars of the service's own history, of several symbols in one insert. */
  async upsertBarsOf(items: readonly { symbol: string; bars: readonly DailyBar[] }[], at = new Date()): Promise<void> {
    let count = 0;
    for (const { bars } of items) count += bars.length;
    const rows = new RowBinaryWriter(Math.min(PIECE_BYTES, 16 + count * 96));
    for (const { symbol, bars } of items) {
      for (const b of bars) {
        rows.string(symbol).date(b.date).float64(b.open).float64(b.high).float64(b.low).float64(b.close).float64(b.volume);
        rows.nullableFloat64(b.turnover).dateTime64Micros(at).endRow();
      }
    }
    await this.store.insertEncoded('bars', rows.encoded(BAR_COLUMNS));
  }

  /** The stored histories of these symbols, each in date order; a symbol with no bars has an empty one. */
  async histories(symbols: readonly string[]): Promise<Map<string, DailyBar[]>> {
    const out = new Map<string, DailyBar[]>(symbols.map((s) => [s, []]));
    const rows = await this.store.query<{
      symbol: string;
      day: string;
      open: number;
      high: number;
      low: number;
      close: number;
      volume: number;
      turnover: number | null;
    }>(
      `SELECT symbol, toString(date) AS day, open, high, low, close, volume, turnover FROM bars FINAL
       WHERE symbol IN {symbols:Array(String)} ORDER BY symbol, date`,
      { symbols },
    );
    for (const r of rows) {
      out.get(r.symbol)?.push({
        date: r.day,
        open: r.open,
        high: r.high,
        low: r.low,
        close: r.close,
        volume: r.volume,
        turnover: r.turnover ?? undefined,
      });
    }
    return out;
  }

  /** A symbol's whole stored history, in date order. */
  async history(symbol: string): Promise<DailyBar[]> {
    return (await this.histories([symbol])).get(symbol) ?? [];
  }

  /**
   * Writes vectors of several symbols and sets in one insert; vectors of the same days are
   * replaced. The values go as their bytes (RowBinary): printing 25 doubles a row as JSON cost
   * several times more than computing them.
   */
  async writeVectorsOf(writes: readonly VectorWrite[], at: Date): Promise<void> {
    let fresh = 0;
    for (const w of writes) if ('rows' in w) fresh += w.rows.reduce((n, r) => n + vectorBytes(r.values.length), 0);
    const rows = new RowBinaryWriter(Math.min(PIECE_BYTES, 16 + fresh));
    const encoded: Buffer[] = [];
    let count = 0;
    for (const w of writes) {
      if ('rows' in w) encodeVectors(rows, w.set, w.symbol, w.rows, at);
      else {
        encoded.push(...w.encoded);
        count += w.count;
      }
    }
    const payload = rows.encoded(FEATURE_COLUMNS);
    payload.chunks.push(...encoded);
    payload.rows += count;
    await this.store.insertEncoded('features', payload);
  }

  /** The vector of one symbol on one day, if computed. */
  async vectorOn(set: { name: string; version: number }, symbol: string, date: string): Promise<StoredVector | undefined> {
    const rows = await this.store.query<{ symbol: string; day: string; close: number; values: number[]; computed: string }>(
      `SELECT symbol, toString(date) AS day, close, values, toString(computed_at) AS computed FROM features FINAL
       WHERE set_name = {name:String} AND set_version = {version:UInt32} AND symbol = {symbol:String} AND date = {date:Date}`,
      { name: set.name, version: set.version, symbol, date },
    );
    const r = rows[0];
    return r && { symbol: r.symbol, date: r.day, close: r.close, values: r.values, computedAt: parseDateTime(r.computed) };
  }

  /** The latest vector of every symbol of a set (warms the online store). */
  async latestVectors(set: { name: string; version: number }): Promise<StoredVector[]> {
    const rows = await this.store.query<{ symbol: string; day: string; close: number; values: number[]; computed: string }>(
      `SELECT symbol, toString(max(date)) AS day, argMax(close, date) AS close, argMax(values, date) AS values,
              toString(argMax(computed_at, date)) AS computed
       FROM features FINAL WHERE set_name = {name:String} AND set_version = {version:UInt32}
       GROUP BY symbol`,
      { name: set.name, version: set.version },
    );
    return rows.map((r) => ({ symbol: r.symbol, date: r.day, close: r.close, values: r.values, computedAt: parseDateTime(r.computed) }));
  }

  /** Symbols that have vectors of a set, in name order. */
  async symbols(set: { name: string; version: number }): Promise<string[]> {
    const rows = await this.store.query<{ symbol: string }>(
      `SELECT DISTINCT symbol FROM features WHERE set_name = {name:String} AND set_version = {version:UInt32} ORDER BY symbol`,
      { name: set.name, version: set.version },
    );
    return rows.map((r) => r.symbol);
  }

  /**
   * One symbol's labelled rows with feature dates in [from, to]: each vector with the close of the
   * symbol's next trading day. The next day is looked up before the range is cut, so the last day
   * of the range keeps its label; a day with no next bar yet has no label and is left out.
   */
  async labelledRows(set: { name: string; version: number }, symbol: string, from: string, to: string): Promise<LabelledRow[]> {
    const rows = await this.store.query<{ day: string; close: number; values: number[]; next_day: string; next_close: number }>(
      `SELECT toString(v.date) AS day, v.close AS close, v.values AS values,
              toString(b.date) AS next_day, b.close AS next_close
       FROM (SELECT symbol, date, close, values FROM features FINAL
             WHERE set_name = {name:String} AND set_version = {version:UInt32} AND symbol = {symbol:String}
               AND date BETWEEN {from:Date} AND {to:Date}) AS v
       ASOF INNER JOIN (SELECT symbol, date, close FROM bars FINAL WHERE symbol = {symbol:String}) AS b
         ON v.symbol = b.symbol AND b.date > v.date
       ORDER BY v.date`,
      { name: set.name, version: set.version, symbol, from, to },
    );
    return rows.map((r) => ({ symbol, date: r.day, close: r.close, values: r.values, nextDate: r.next_day, nextClose: r.next_close }));
  }
}
