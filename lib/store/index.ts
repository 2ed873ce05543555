/**
 * ClickHouse for the mesh's services, through one small interface with two drivers:
 * chdb (embedded ClickHouse in the process, the local default) and a ClickHouse
 * server over HTTP via @clickhouse/client (when CLICKHOUSE_URL is set). The same
 * SQL, with the same `{name:Type}` parameters, runs on both.
 *
 * ```ts
 * import { migrate, openStore, type Migration } from '../../lib/store/index.js';
 *
 * const MIGRATIONS: Migration[] = [
 *   { id: '001_bars', statements: [
 *     `CREATE TABLE IF NOT EXISTS bars (symbol String, date Date, close Float64, version UInt64)
 *      ENGINE = ReplacingMergeTree(version) ORDER BY (symbol, date)`,
 *   ] },
 * ];
 *
 * const store = await openStore({ url: process.env.CLICKHOUSE_URL, database: 'ingestion' });
 * await migrate(store, MIGRATIONS);                        // applied ids; [] when up to date
 * await store.insert('bars', [{ symbol: 'NABIL', date: '2024-01-02', close: 512.5, version: 1 }]);
 * const rows = await store.query<{ symbol: string; n: number }>(
 *   `SELECT symbol, count() AS n FROM bars FINAL
 *    WHERE symbol IN {symbols:Array(String)} AND date >= {from:Date} GROUP BY symbol`,
 *   { symbols: ['NABIL'], from: '2024-01-01' },
 * );
 * await store.close();
 * ```
 *
 * Behaviour both drivers share (see SESSION_SETTINGS):
 * - Every statement runs in the store's own database; tables of other services
 *   are not visible unless named `db.table` (which services must not do).
 * - JSON rows out: (U)Int64 arrive as numbers (`count()` is a number; exact only up
 *   to 2^53 — select `toString(x)` for ids that need every digit). Date is
 *   `'YYYY-MM-DD'`, DateTime `'YYYY-MM-DD HH:MM:SS'` in UTC (session timezone).
 * - Params: a `{d:Date}` placeholder takes `'YYYY-MM-DD'` (or a JS Date, sent as its
 *   UTC day); `{t:DateTime}` takes `'YYYY-MM-DD HH:MM:SS'` (UTC) or a JS Date;
 *   bigint binds exactly; arrays bind to `Array(T)`.
 * - ReplacingMergeTree keeps every inserted version until a background merge;
 *   read with `FINAL` to see one row per sorting key (the highest version).
 * - `insert` is one INSERT per call: all-or-nothing, empty is a no-op, an omitted
 *   key takes the column DEFAULT, an unknown key fails the call. Hot paths that
 *   write many numbers encode their rows with {@link RowBinaryWriter} and call
 *   `insertEncoded`: the values travel as their bytes, not as printed digits.
 * - Failures are {@link StoreError} (with an SQL snippet and ClickHouse's code);
 *   {@link StoreUnavailableError} means "not reachable now" (map to UNAVAILABLE).
 *
 * Embedded engine: one per process. Stores opened in one process share the engine
 * opened by the first (a warning names the path when a later store asked for
 * another) and are separated by database; closing one leaves the others working.
 * chdb-only helpers live in `./chdb-driver.js` (`chdbSession` for the raw Session,
 * `chdbEnginePath`), kept out of this entry so server mode never loads the native
 * engine. Insert throughput per path: `node --import tsx bench/chdb-insert.ts`.
 *
 * @module
 */
export type { QueryParams, Row, Store, StoreOptions } from './types.js';
export { openStore } from './open-store.js';
export { openServiceStore, type StoreConfig } from './service-store.js';
export { migrate, MIGRATIONS_TABLE, type Migration } from './migrate.js';
export { MigrationError, StoreError, StoreUnavailableError, type StoreErrorOptions } from './errors.js';
export { SESSION_SETTINGS } from './sql.js';
export { parseDateTime, type EncodedRows } from './rows.js';
export { RowBinaryWriter } from './row-binary.js';
