import assert from 'node:assert/strict';
import { it as test } from 'node:test';
import { MigrationError, StoreError, StoreUnavailableError } from './errors.js';
import { migrate, type Migration } from './migrate.js';
import { RowBinaryWriter } from './row-binary.js';
import type { Store } from './types.js';

let counter = 0;

/** A database name no other test (or concurrent run) uses. */
export function uniqueDatabase(prefix = 't'): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
}

const BARS = `CREATE TABLE bars (
  symbol String, date Date, close Float64, trades UInt32, version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY (symbol, date)`;

interface Bar {
  symbol: string;
  date: string;
  close: number;
  trades: number;
  version: number;
}

/** Opens a store, runs `fn`, then drops the store's database and closes it, whatever happened. */
async function withStore(open: () => Promise<Store>, fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await open();
  try {
    await fn(store);
  } finally {
    try {
      await store.exec(`DROP DATABASE IF EXISTS ${store.database}`);
    } finally {
      await store.close();
    }
  }
}

/** Options of {@link storeContract}. */
export interface StoreContractOptions {
  /** Skip every case with this reason (e.g. no server configured), so reports count them as skipped. */
  skip?: string | false;
}

/**
 * The behaviour every Store driver must show, as node:test cases; call it inside a
 * `describe`. `open` must return a store on a fresh database each call (the suite
 * drops it afterwards) — engines are real, nothing is mocked.
 */
export function storeContract(open: () => Promise<Store>, options: StoreContractOptions = {}): void {
  const it = (name: string, fn: () => Promise<void>) => test(name, { skip: options.skip ?? false }, fn);
  it('creates a table, inserts rows and binds String, Date, Array(String), Float64 and UInt32 params', async () => {
    await withStore(open, async (store) => {
      await store.exec(BARS);
      await store.insert('bars', [
        { symbol: 'NABIL', date: '2024-01-01', close: 500.5, trades: 10, version: 1 },
        { symbol: 'NABIL', date: '2024-01-02', close: 510.25, trades: 20, version: 1 },
        { symbol: 'NICA', date: '2024-01-02', close: 800, trades: 5, version: 1 },
        { symbol: "O'REILLY\t\\", date: '2024-01-03', close: 1, trades: 1, version: 1 },
      ]);
      const rows = await store.query<Bar>(
        `SELECT symbol, date, close, trades, version FROM bars
         WHERE symbol IN {symbols:Array(String)} AND date >= {from:Date} AND close > {min:Float64} AND trades >= {trades:UInt32}
         ORDER BY symbol, date`,
        { symbols: ['NABIL', 'NICA'], from: '2024-01-02', min: 100.5, trades: 5 },
      );
      assert.deepEqual(rows, [
        { symbol: 'NABIL', date: '2024-01-02', close: 510.25, trades: 20, version: 1 },
        { symbol: 'NICA', date: '2024-01-02', close: 800, trades: 5, version: 1 },
      ]);
      const [odd] = await store.query<{ symbol: string }>('SELECT symbol FROM bars WHERE symbol = {s:String}', {
        s: "O'REILLY\t\\",
      });
      assert.equal(odd?.symbol, "O'REILLY\t\\");
      // count() is UInt64: a JS number on both drivers.
      const [count] = await store.query<{ n: number }>('SELECT count() AS n FROM bars WHERE date = {d:Date}', {
        d: new Date('2024-01-02T18:30:00Z'),
      });
      assert.equal(count?.n, 2);
    });
  });

  it('binds JS Dates by placeholder type, bigint exactly, and reads DateTime in UTC', async () => {
    await withStore(open, async (store) => {
      const instant = new Date('2024-01-02T03:04:05.678Z');
      const [row] = await store.query<Record<string, unknown>>(
        `SELECT {d:Date} AS d, {t:DateTime} AS t, {t64:DateTime64(3)} AS t64, toString({big:UInt64}) AS big,
                {days:Array(Date)} AS days, {missing:Nullable(String)} AS missing`,
        { d: instant, t: instant, t64: instant, big: 18446744073709551615n, days: [instant, '2024-02-03'], missing: null },
      );
      assert.deepEqual(row, {
        d: '2024-01-02',
        t: '2024-01-02 03:04:05',
        t64: '2024-01-02 03:04:05.678',
        big: '18446744073709551615',
        days: ['2024-01-02', '2024-02-03'],
        missing: null,
      });
    });
  });

  it('keeps one row per key under FINAL in a ReplacingMergeTree', async () => {
    await withStore(open, async (store) => {
      await store.exec(BARS);
      await store.insert('bars', [{ symbol: 'NABIL', date: '2024-01-01', close: 500, trades: 1, version: 1 }]);
      await store.insert('bars', [{ symbol: 'NABIL', date: '2024-01-01', close: 505, trades: 2, version: 2 }]);
      const final = await store.query<Bar>('SELECT close, version FROM bars FINAL');
      assert.deepEqual(final, [{ close: 505, version: 2 }]);
      // Without FINAL both versions may still be there until a merge: that is why reads use FINAL.
      const [raw] = await store.query<{ n: number }>('SELECT count() AS n FROM bars');
      assert.ok(raw !== undefined && raw.n >= 1 && raw.n <= 2);
      await store.exec('OPTIMIZE TABLE bars FINAL');
      assert.deepEqual(await store.query('SELECT count() AS n FROM bars'), [{ n: 1 }]);
    });
  });

  it('applies migrations once, in order, and names a failing one', async () => {
    await withStore(open, async (store) => {
      const migrations: Migration[] = [
        { id: '001_bars', statements: [BARS.replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS')] },
        { id: '002_note', statements: ["ALTER TABLE bars ADD COLUMN IF NOT EXISTS note String DEFAULT ''"] },
      ];
      assert.deepEqual(await migrate(store, migrations), ['001_bars', '002_note']);
      assert.deepEqual(await migrate(store, migrations), []);
      const recorded = await store.query<{ id: string }>('SELECT id FROM schema_migrations FINAL ORDER BY id');
      assert.deepEqual(recorded, [{ id: '001_bars' }, { id: '002_note' }]);

      const broken: Migration[] = [
        ...migrations,
        { id: '003_broken', statements: ['ALTER TABLE no_such_table ADD COLUMN x UInt8'] },
        { id: '004_after', statements: ['CREATE TABLE IF NOT EXISTS after (x UInt8) ENGINE = Memory'] },
      ];
      await assert.rejects(migrate(store, broken), (e: unknown) => {
        assert.ok(e instanceof MigrationError);
        assert.equal(e.migrationId, '003_broken');
        assert.match(e.message, /003_broken/);
        return true;
      });
      assert.deepEqual(await store.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 'after'"), []);
      await assert.rejects(migrate(store, [migrations[0]!, migrations[0]!]), MigrationError);
    });
  });

  it('turns bad SQL into a StoreError carrying the statement and ClickHouse code', async () => {
    await withStore(open, async (store) => {
      await assert.rejects(store.query('SELEC 1'), (e: unknown) => {
        assert.ok(e instanceof StoreError && !(e instanceof StoreUnavailableError));
        assert.equal(e.clickhouseCode, 62);
        assert.equal(e.sql, 'SELEC 1');
        return true;
      });
      await assert.rejects(store.exec('INSERT INTO nowhere SELECT 1'), (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.equal(e.clickhouseCode, 60);
        return true;
      });
      await assert.rejects(store.query('SELECT {x:UInt8} AS x'), StoreError);
      await assert.rejects(store.insert('bad name', [{ a: 1 }]), StoreError);
    });
  });

  it('keeps two databases apart', async () => {
    await withStore(open, async (a) => {
      await withStore(open, async (b) => {
        assert.notEqual(a.database, b.database);
        await a.exec(BARS);
        await b.exec(BARS);
        await a.insert('bars', [{ symbol: 'A', date: '2024-01-01', close: 1, trades: 1, version: 1 }]);
        await b.insert('bars', [
          { symbol: 'B', date: '2024-01-01', close: 2, trades: 1, version: 1 },
          { symbol: 'C', date: '2024-01-01', close: 3, trades: 1, version: 1 },
        ]);
        assert.deepEqual(await a.query('SELECT symbol FROM bars ORDER BY symbol'), [{ symbol: 'A' }]);
        assert.deepEqual(await b.query('SELECT symbol FROM bars ORDER BY symbol'), [{ symbol: 'B' }, { symbol: 'C' }]);
        assert.deepEqual(await a.query('SELECT currentDatabase() AS db'), [{ db: a.database }]);
        assert.deepEqual(await b.query('SELECT currentDatabase() AS db'), [{ db: b.database }]);
      });
    });
  });

  it('treats an empty insert as a no-op', async () => {
    await withStore(open, async (store) => {
      await store.insert('table_that_does_not_exist', []);
      await store.exec(BARS);
      await store.insert('bars', []);
      assert.deepEqual(await store.query('SELECT count() AS n FROM bars'), [{ n: 0 }]);
    });
  });

  it('inserts all-or-nothing, fills omitted keys with DEFAULT and refuses unknown keys', async () => {
    await withStore(open, async (store) => {
      await store.exec("CREATE TABLE t (k UInt32, s String DEFAULT 'dflt', n Nullable(Float64), big UInt64) ENGINE = MergeTree ORDER BY k");
      const good = Array.from({ length: 1000 }, (_, i) => ({ k: i, s: `s${i}`, n: null, big: 1 }));
      await assert.rejects(store.insert('t', [...good, { k: 'not a number', s: 'x', n: null, big: 1 }]), StoreError);
      assert.deepEqual(await store.query('SELECT count() AS n FROM t'), [{ n: 0 }]);

      await store.insert('t', [
        { k: 1, n: 1.5, big: 18446744073709551615n },
        { k: 2, s: 'two', n: null, big: 2 },
      ]);
      assert.deepEqual(await store.query('SELECT k, s, n, toString(big) AS big FROM t ORDER BY k'), [
        { k: 1, s: 'dflt', n: 1.5, big: '18446744073709551615' },
        { k: 2, s: 'two', n: null, big: '2' },
      ]);
      await assert.rejects(store.insert('t', [{ k: 3, big: 1, typo: 1 }]), StoreError);
    });
  });

  it('inserts RowBinary rows bit for bit, in the order of the listed columns, all or nothing', async () => {
    await withStore(open, async (store) => {
      await store.exec(
        `CREATE TABLE v (name LowCardinality(String), version UInt32, day Date, close Float64, values Array(Float64),
           turnover Nullable(Float64), at DateTime64(6, 'UTC')) ENGINE = MergeTree ORDER BY (name, day)`,
      );
      const values = [0.1, 1 / 3, -2.5e-300, Number.MAX_VALUE, Number.MIN_VALUE, -0, 5e-324 * 3];
      const at = new Date('2024-05-06T07:08:09.123Z');
      const rows = new RowBinaryWriter();
      // Written in another order than the table's: the column list decides.
      const columns = ['day', 'name', 'version', 'values', 'close', 'turnover', 'at'];
      for (let i = 0; i < 3000; i++) {
        rows
          .date(i === 0 ? '1970-01-01' : '2024-02-29')
          .string(`SYMBÖL${i}`)
          .uint32(4_000_000_000 + i)
          .float64Array(i === 0 ? values : [i])
          .float64(i + 0.5)
          .nullableFloat64(i % 2 === 0 ? undefined : i * 1.25)
          .dateTime64Micros(at)
          .endRow();
      }
      await store.insertEncoded('v', rows.encoded(columns));
      const read = await store.query<Record<string, unknown> & { values: number[] }>(
        `SELECT name, version, toString(day) AS day, close, values, turnover, toString(at) AS at FROM v
         WHERE name IN ('SYMBÖL0', 'SYMBÖL1') ORDER BY name`,
      );
      assert.deepEqual(
        read.map((r) => ({ ...r, values: r.values.map((x) => (Object.is(x, -0) ? 'minus zero' : x)) })),
        [
          // -0 is stored as 0, as the JSON formats print it.
          {
            name: 'SYMBÖL0',
            version: 4_000_000_000,
            day: '1970-01-01',
            close: 0.5,
            values: values.map((x) => (x === 0 ? 0 : x)),
            turnover: null,
            at: '2024-05-06 07:08:09.123000',
          },
          {
            name: 'SYMBÖL1',
            version: 4_000_000_001,
            day: '2024-02-29',
            close: 1.5,
            values: [1],
            turnover: 1.25,
            at: '2024-05-06 07:08:09.123000',
          },
        ],
      );
      assert.deepEqual(await store.query('SELECT count() AS n FROM v'), [{ n: 3000 }]);

      // A payload that does not match the columns fails the whole insert.
      const bad = new RowBinaryWriter();
      bad.string('A').endRow();
      await assert.rejects(store.insertEncoded('v', bad.encoded(['name', 'version'])), StoreError);
      assert.deepEqual(await store.query('SELECT count() AS n FROM v'), [{ n: 3000 }]);
    });
  });

  it('runs parameterised statements through exec and reports a closed store as unavailable', async () => {
    const store = await open();
    try {
      await store.exec(BARS);
      await store.exec(
        `INSERT INTO bars SELECT {symbol:String}, toDate({from:Date}) + number, number, number, 1 FROM numbers({n:UInt32})`,
        { symbol: 'NABIL', from: '2024-01-01', n: 3 },
      );
      assert.deepEqual(await store.query('SELECT max(date) AS last FROM bars'), [{ last: '2024-01-03' }]);
      await store.exec(`DROP DATABASE ${store.database}`);
    } finally {
      await store.close();
      await store.close(); // idempotent
    }
    await assert.rejects(store.query('SELECT 1'), StoreUnavailableError);
    await assert.rejects(store.insert('bars', [{ a: 1 }]), StoreUnavailableError);
  });
}
