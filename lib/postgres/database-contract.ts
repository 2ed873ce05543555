import assert from 'node:assert/strict';
import { it as test } from 'node:test';
import { DatabaseError, DatabaseUnavailableError, isSerializationFailure, isUniqueViolation, MigrationError, SqlState } from './errors.js';
import { migrate, MIGRATIONS_TABLE, type Migration } from './migrate.js';
import type { Database } from './types.js';

let counter = 0;

/** A schema name no other test (or concurrent run) uses. */
export function uniqueSchema(prefix = 't'): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`;
}

/** Opens a database, runs `fn`, then closes it, whatever happened. */
async function withDatabase(open: () => Promise<Database>, fn: (db: Database) => Promise<void>): Promise<void> {
  const db = await open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

/** Options of {@link databaseContract}. */
export interface DatabaseContractOptions {
  /** Skip every case with this reason (no server reachable), so reports count them as skipped. */
  skip?: string | false;
}

class CallbackError extends Error {}

/**
 * The behaviour every Database driver must show, as node:test cases; call it inside a
 * `describe`. `open` must return a database on a fresh schema (or a fresh engine) each call.
 */
export function databaseContract(open: () => Promise<Database>, options: DatabaseContractOptions = {}): void {
  const it = (name: string, fn: () => Promise<void>) => test(name, { skip: options.skip ?? false }, fn);

  it('binds $n params and answers the same JS types on both drivers', async () => {
    await withDatabase(open, async (db) => {
      const [row] = await db.query(
        `SELECT 42::int8 AS i8, 7::int4 AS i4, 1.25::numeric AS num, 2.5::float8 AS f8, '2024-02-29'::date AS d,
                $1::timestamptz AS ts, $2::jsonb AS j, $3::text[] AS arr, $4::bytea AS b, $5::text AS s, $6::int4 AS n,
                $7::boolean AS yes, ARRAY['2024-01-01'::date] AS dates, ARRAY[1::int8, 2] AS big`,
        [
          new Date('2024-03-01T10:00:00.123Z'),
          JSON.stringify({ a: [1, 2] }),
          ["O'Reilly", 'b\\c'],
          new Uint8Array([1, 2, 255]),
          null,
          5,
          true,
        ],
      );
      assert.equal(row.i8, 42);
      assert.equal(row.i4, 7);
      assert.equal(row.num, '1.25');
      assert.equal(row.f8, 2.5);
      assert.equal(row.d, '2024-02-29');
      assert.ok(row.ts instanceof Date);
      assert.equal((row.ts as Date).toISOString(), '2024-03-01T10:00:00.123Z');
      assert.deepEqual(row.j, { a: [1, 2] });
      assert.deepEqual(row.arr, ["O'Reilly", 'b\\c']);
      assert.ok(row.b instanceof Uint8Array);
      assert.deepEqual([...(row.b as Uint8Array)], [1, 2, 255]);
      assert.equal(row.s, null);
      assert.equal(row.n, 5);
      assert.equal(row.yes, true);
      assert.deepEqual(row.dates, ['2024-01-01']);
      assert.deepEqual(row.big, [1, 2]);
      assert.deepEqual(await db.query('CREATE TABLE empty_result (x int)'), []);
    });
  });

  it('commits a transaction, rolls it back on a throw, and passes the callback error through unchanged', async () => {
    await withDatabase(open, async (db) => {
      await db.query('CREATE TABLE t (x int PRIMARY KEY)');
      const value = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES ($1)', [1]);
        return 'done';
      });
      assert.equal(value, 'done');
      const failure = new CallbackError('nope');
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES ($1)', [2]);
          throw failure;
        }),
        (e: unknown) => e === failure,
      );
      // A failed statement aborts the transaction; nothing of it stays.
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES ($1)', [3]);
          await tx.query('INSERT INTO t VALUES ($1)', [1]);
        }),
        (e: unknown) => isUniqueViolation(e, 't_pkey'),
      );
      assert.deepEqual(await db.query('SELECT x FROM t ORDER BY x'), [{ x: 1 }]);
      const level = await db.transaction(
        async (tx) => (await tx.query<{ transaction_isolation: string }>('SHOW transaction_isolation'))[0].transaction_isolation,
        { isolation: 'serializable' },
      );
      assert.equal(level, 'serializable');
    });
  });

  it('names its errors: SQLSTATE, constraint, statement excerpt, serialization failures, one statement per call', async () => {
    await withDatabase(open, async (db) => {
      await db.query('CREATE TABLE u (name text NOT NULL, CONSTRAINT u_name UNIQUE (name))');
      await db.query('INSERT INTO u VALUES ($1)', ['a']);
      await assert.rejects(db.query('INSERT INTO u VALUES ($1)', ['a']), (e: unknown) => {
        assert.ok(e instanceof DatabaseError && !(e instanceof DatabaseUnavailableError));
        assert.equal(e.code, SqlState.uniqueViolation);
        assert.equal(e.constraint, 'u_name');
        assert.match(e.sql ?? '', /INSERT INTO u/);
        assert.ok(isUniqueViolation(e) && isUniqueViolation(e, 'u_name') && !isUniqueViolation(e, 'other'));
        return true;
      });
      await assert.rejects(db.query('SELEC 1'), (e: unknown) => e instanceof DatabaseError && e.code === SqlState.syntaxError);
      await assert.rejects(db.query('SELECT 1; SELECT 2'), (e: unknown) => e instanceof DatabaseError && e.code === SqlState.syntaxError);
      const raise = (code: string) => `DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '${code}'; END $$`;
      await assert.rejects(db.query(raise('40001')), (e: unknown) => isSerializationFailure(e));
      await assert.rejects(db.query(raise('40P01')), (e: unknown) => isSerializationFailure(e));
      await assert.rejects(db.query(raise('22012')), (e: unknown) => e instanceof DatabaseError && !isSerializationFailure(e));
    });
  });

  it('refuses the database itself inside its own transaction, and a transaction handle used too late', async () => {
    await withDatabase(open, async (db) => {
      let kept: { query: (sql: string) => Promise<unknown> } | undefined;
      await db.transaction(async (tx) => {
        kept = tx;
        await assert.rejects(db.query('SELECT 1'), /inside one of its own transactions/);
        await assert.rejects(
          db.transaction(async () => {}),
          /inside one of its own transactions/,
        );
        assert.deepEqual(await tx.query('SELECT 1 AS one'), [{ one: 1 }]);
      });
      await assert.rejects(kept!.query('SELECT 1'), /already finished/);
      assert.deepEqual(await db.query('SELECT 2 AS two'), [{ two: 2 }]);
    });
  });

  it('migrates once, in order, all-or-nothing per migration, and names the failing one', async () => {
    await withDatabase(open, async (db) => {
      const good: Migration[] = [
        { id: '001_a', statements: ['CREATE TABLE a (x int)', 'INSERT INTO a VALUES (1)'] },
        { id: '002_b', statements: ['CREATE TABLE b (y int)'] },
      ];
      assert.deepEqual(await migrate(db, good), ['001_a', '002_b']);
      assert.deepEqual(await migrate(db, good), []);
      const broken: Migration[] = [...good, { id: '003_c', statements: ['CREATE TABLE c (z int)', 'CREATE TABLE a (x int)'] }];
      await assert.rejects(migrate(db, broken), (e: unknown) => {
        assert.ok(e instanceof MigrationError);
        assert.equal(e.migrationId, '003_c');
        assert.match(e.message, /statement 2 of 2/);
        return true;
      });
      // Statement 1 of the failed migration was rolled back with it.
      assert.deepEqual(await db.query(`SELECT to_regclass('c') IS NULL AS gone`), [{ gone: true }]);
      assert.deepEqual(
        (await db.query(`SELECT id FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.id),
        ['001_a', '002_b'],
      );
      assert.deepEqual(await db.query('SELECT x FROM a'), [{ x: 1 }]);
      const fixed: Migration[] = [...good, { id: '003_c', statements: ['CREATE TABLE c (z int)'] }];
      assert.deepEqual(await migrate(db, fixed), ['003_c']);
      await assert.rejects(
        migrate(db, [
          { id: 'x', statements: ['SELECT 1'] },
          { id: 'x', statements: ['SELECT 1'] },
        ]),
        /duplicate migration id/,
      );
      // Two instances migrating at once apply each migration once.
      const more: Migration[] = [...fixed, { id: '004_d', statements: ['CREATE TABLE d (w int)'] }];
      const [first, second] = await Promise.all([migrate(db, more), migrate(db, more)]);
      assert.deepEqual([...first, ...second], ['004_d']);
    });
  });

  it('serialises concurrent read-modify-write transactions with SELECT … FOR UPDATE', async () => {
    await withDatabase(open, async (db) => {
      await db.query('CREATE TABLE counter (name text PRIMARY KEY, n int NOT NULL)');
      await db.query(`INSERT INTO counter VALUES ('c', 0)`);
      await Promise.all(
        Array.from({ length: 20 }, () =>
          db.transaction(async (tx) => {
            const [row] = await tx.query<{ n: number }>(`SELECT n FROM counter WHERE name = 'c' FOR UPDATE`);
            await new Promise((resolve) => setTimeout(resolve, 2));
            await tx.query(`UPDATE counter SET n = $1 WHERE name = 'c'`, [row.n + 1]);
          }),
        ),
      );
      assert.deepEqual(await db.query(`SELECT n FROM counter`), [{ n: 20 }]);
    });
  });

  it('runs every statement in its schema', async () => {
    await withDatabase(open, async (db) => {
      assert.deepEqual(await db.query('SELECT current_schema() AS s'), [{ s: db.schema }]);
      await db.query('CREATE TABLE here (x int)');
      assert.deepEqual(await db.query(`SELECT table_schema FROM information_schema.tables WHERE table_name = 'here'`), [
        { table_schema: db.schema },
      ]);
      await db.transaction(async (tx) => assert.deepEqual(await tx.query('SELECT current_schema() AS s'), [{ s: db.schema }]));
    });
  });

  it('close waits for calls in flight, then refuses calls as unavailable; closing twice is fine', async () => {
    const db = await open();
    const slow = db.query('SELECT true AS slept FROM pg_sleep(0.2)');
    await db.close();
    assert.deepEqual(await slow, [{ slept: true }]);
    await assert.rejects(db.query('SELECT 1'), DatabaseUnavailableError);
    await assert.rejects(
      db.transaction(async () => {}),
      DatabaseUnavailableError,
    );
    await db.close();
  });
}
