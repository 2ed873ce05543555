/**
 * Insert throughput of the embedded engine, per insert path, from rows in memory
 * to rows committed. Run: `node --import tsx bench/chdb-insert.ts [rows] [repeats]`
 * (default 200000 rows, 3 repeats; prints one line per path, median rows/s).
 * The bench/ suite can import {@link benchInsert} to compare against "raw chdb".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import chdb, { type Session } from 'chdb';
import { chdbSession, openChdbStore } from '../lib/store/chdb-driver.js';
import type { SymbolBar } from '../lib/market/index.js';
import type { Row, Store } from '../lib/store/types.js';

/** One bar as the ingestion service stores it: the kit's bar, every field given, and its row version. */
export type BenchBar = Required<SymbolBar> & { version: number };

const COLUMNS = ['symbol', 'date', 'open', 'high', 'low', 'close', 'volume', 'turnover', 'trades', 'version'] as const;
const TABLE = 'bench_bars';
const DDL = `CREATE TABLE ${TABLE} (
  symbol String, date Date, open Float64, high Float64, low Float64, close Float64,
  volume Float64, turnover Float64, trades UInt32, version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY (symbol, date)`;

/** `n` distinct bars: 5000 trading days per symbol, as many symbols as needed. */
export function benchBars(n: number): BenchBar[] {
  const start = Date.UTC(2000, 0, 1);
  return Array.from({ length: n }, (_, i) => ({
    symbol: `SYM${Math.floor(i / 5000)}`,
    date: new Date(start + (i % 5000) * 86_400_000).toISOString().slice(0, 10),
    open: 100 + (i % 7),
    high: 110.5 + (i % 3),
    low: 95.25,
    close: 101.125 + (i % 11) / 8,
    volume: 12_345 + i,
    turnover: 1_234_567.89 + i,
    trades: i % 1000,
    version: 1,
  }));
}

const compactPayload = (rows: readonly BenchBar[]): Buffer => {
  let payload = '';
  for (const r of rows) payload += JSON.stringify(COLUMNS.map((c) => r[c])) + '\n';
  return Buffer.from(payload);
};
const eachRowPayload = (rows: readonly BenchBar[]): string => {
  let payload = '';
  for (const r of rows) payload += JSON.stringify(r) + '\n';
  return payload;
};

type Method = (store: Store, session: Session, rows: readonly BenchBar[]) => Promise<void>;

/** Arrow input through chdb's registerArrowTable. */
const arrowInsert: Method = async (_store, session, rows) => {
  // chdb 3.4's registerArrowTable reads `opts.session._handle`, which Session does
  // not have (it has `connection`), so a real Session silently lands on the default
  // connection; handing it the connection under that name is the private-API
  // workaround — which is why the store does not use this path.
  const handle = chdb.registerArrowTable(
    'bench_arrow_in',
    [
      { name: 'symbol', type: 'String', data: rows.map((r) => r.symbol) },
      { name: 'date', type: 'String', data: rows.map((r) => r.date) },
      ...(['open', 'high', 'low', 'close', 'volume', 'turnover'] as const).map((c) => ({
        name: c,
        type: 'Float64' as const,
        data: Float64Array.from(rows, (r) => r[c]),
      })),
      { name: 'trades', type: 'Int32', data: Int32Array.from(rows, (r) => r.trades) },
      { name: 'version', type: 'Int64', data: BigInt64Array.from(rows, (r) => BigInt(r.version)) },
    ],
    { session: { _handle: session.connection } as never },
  );
  try {
    await session.queryAsync(
      `INSERT INTO ${TABLE} SELECT symbol, toDate(date), open, high, low, close, volume, turnover, trades, version FROM arrowstream('bench_arrow_in')`,
    );
  } finally {
    handle.close();
  }
};

/** The insert paths measured, by name. Payload building counts unless the name says "prebuilt". */
export const INSERT_METHODS: Readonly<Record<string, Method>> = {
  'Store.insert (JSONCompactEachRow, the store path)': (store, _s, rows) => store.insert(TABLE, rows as unknown as Row[]),
  'chdb insert(objects) (native API, builds INSERT … VALUES)': async (_st, session, rows) => {
    await session.insert({ table: TABLE, values: rows as unknown as Record<string, unknown>[] });
  },
  'chdb insert(raw JSONEachRow Buffer)': async (_st, session, rows) => {
    await session.insert({ table: TABLE, values: Buffer.from(eachRowPayload(rows)), format: 'JSONEachRow' });
  },
  'queryAsync(INSERT … FORMAT JSONEachRow text)': async (_st, session, rows) => {
    await session.queryAsync(`INSERT INTO ${TABLE} FORMAT JSONEachRow\n${eachRowPayload(rows)}`);
  },
  'chdb insert(raw JSONCompactEachRow Buffer)': async (_st, session, rows) => {
    await session.insert({ table: TABLE, values: compactPayload(rows), format: 'JSONCompactEachRow', columns: COLUMNS });
  },
  'arrowstream (registerArrowTable + INSERT SELECT, private API)': arrowInsert,
};

/** One measured path. */
export interface InsertBenchResult {
  method: string;
  /** Median over the repeats, rows per second. */
  rowsPerSecond: number;
  /** Wall time of each repeat, milliseconds. */
  runsMs: number[];
}

/** What {@link benchInsert} measured. */
export interface InsertBench {
  /** ClickHouse version inside chdb. */
  engineVersion: string;
  /** Rows per insert. */
  rows: number;
  results: InsertBenchResult[];
}

/** Options of {@link benchInsert}. */
export interface InsertBenchOptions {
  /** Rows per insert (default 200000). */
  rows?: number;
  /** Repeats per path; the median counts (default 3). */
  repeats?: number;
  /** Only paths whose name contains this text. */
  filter?: string;
}

async function timeRuns(
  repeats: number,
  rows: number,
  reset: () => Promise<void>,
  run: () => Promise<void>,
  check: () => Promise<number>,
): Promise<number[]> {
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await reset();
    const started = performance.now();
    await run();
    runs.push(performance.now() - started);
    const stored = await check();
    if (stored !== rows) throw new Error(`expected ${rows} rows after insert, found ${stored}`);
  }
  return runs;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Measures each insert path into a fresh ReplacingMergeTree table of bars, plus
 * "raw chdb" (a prebuilt JSONCompactEachRow / JSONEachRow payload: the engine
 * alone, no JS serialisation). Every run is checked to have stored all rows.
 */
export async function benchInsert(options: InsertBenchOptions = {}): Promise<InsertBench> {
  const n = options.rows ?? 200_000;
  const repeats = options.repeats ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'nepse-insert-bench-'));
  const store = await openChdbStore({ path: dir, database: 'insert_bench' });
  try {
    const session = chdbSession(store);
    const rows = benchBars(n);
    const reset = async () => {
      await store.exec(`DROP TABLE IF EXISTS ${TABLE}`);
      await store.exec(DDL);
    };
    const check = async () => (await store.query<{ n: number }>(`SELECT count() AS n FROM ${TABLE}`))[0]!.n;
    const prebuiltCompact = compactPayload(rows);
    const prebuiltEachRow = Buffer.from(eachRowPayload(rows));
    const methods: Record<string, () => Promise<void>> = {};
    for (const [name, method] of Object.entries(INSERT_METHODS)) methods[name] = () => method(store, session, rows);
    methods['raw chdb: prebuilt JSONCompactEachRow Buffer (engine only)'] = async () => {
      await session.insert({ table: TABLE, values: prebuiltCompact, format: 'JSONCompactEachRow', columns: COLUMNS });
    };
    methods['raw chdb: prebuilt JSONEachRow Buffer (engine only)'] = async () => {
      await session.insert({ table: TABLE, values: prebuiltEachRow, format: 'JSONEachRow' });
    };
    const results: InsertBenchResult[] = [];
    for (const [method, run] of Object.entries(methods)) {
      if (options.filter !== undefined && !method.includes(options.filter)) continue;
      const runsMs = await timeRuns(repeats, n, reset, run, check);
      results.push({ method, rowsPerSecond: Math.round((n / median(runsMs)) * 1000), runsMs });
    }
    const [{ v: engineVersion }] = (await store.query<{ v: string }>('SELECT version() AS v')) as [{ v: string }];
    await store.exec('DROP DATABASE insert_bench');
    return { engineVersion, rows: n, results };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = Number(process.argv[2] ?? 200_000);
  const repeats = Number(process.argv[3] ?? 3);
  const bench = await benchInsert({ rows, repeats });
  console.log(`insert ${bench.rows} bars per call, median of ${repeats}, chdb engine ${bench.engineVersion}`);
  for (const r of bench.results) {
    const runs = r.runsMs.map((ms) => ms.toFixed(0)).join('/');
    console.log(`${r.method.padEnd(66)} ${r.rowsPerSecond.toLocaleString('en-US').padStart(10)} rows/s  (${runs} ms)`);
  }
}
