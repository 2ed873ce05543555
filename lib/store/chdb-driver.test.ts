import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chdbEnginePath, chdbSession, SHARED_ENGINE_WARNING } from './chdb-driver.js';
import { openStore } from './open-store.js';
import { storeContract, uniqueDatabase } from './store-contract.js';
import type { Store } from './types.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nepse-store-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Collects process warnings with our code while `fn` runs (they are emitted on a later tick). */
async function sharedEngineWarnings(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (w: Error & { code?: string }) => {
    if (w.code === SHARED_ENGINE_WARNING) seen.push(w.message);
  };
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

describe('chdb store', () => {
  storeContract(() => openStore({ path: join(dir, 'engine'), database: uniqueDatabase() }));
});

describe('chdb engine sharing (one engine per process)', () => {
  it('shares the first engine with a store that asks for another path, warns, and keeps them apart', async () => {
    const first = await openStore({ path: join(dir, 'one'), database: uniqueDatabase('one') });
    let second: Store | undefined;
    try {
      const warnings = await sharedEngineWarnings(async () => {
        second = await openStore({ path: join(dir, 'two'), database: uniqueDatabase('two') });
      });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, new RegExp(`open at ${join(dir, 'one')}`));
      assert.equal(chdbEnginePath(), join(dir, 'one'));
      await first.exec('CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x');
      await second!.exec('CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x');
      await first.insert('t', [{ x: 1 }]);
      await second!.insert('t', [{ x: 2 }, { x: 3 }]);
      assert.deepEqual(await first.query('SELECT x FROM t'), [{ x: 1 }]);
      assert.deepEqual(await second!.query('SELECT x FROM t ORDER BY x'), [{ x: 2 }, { x: 3 }]);

      // Once per path: a second store asking for the same other path is not reported again.
      const again = await sharedEngineWarnings(async () => {
        await (await openStore({ path: join(dir, 'two'), database: uniqueDatabase('two') })).close();
      });
      assert.deepEqual(again, []);

      // The default path is .data/<database>, named in the warning though never created.
      const db = uniqueDatabase('dflt');
      const warned = await sharedEngineWarnings(async () => {
        await (await openStore({ database: db })).close();
      });
      assert.match(warned[0]!, new RegExp(`asked for ${resolve('.data', db)}`));
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('keeps a store working when another store on the engine closes (reference counting)', async () => {
    const a = await openStore({ path: join(dir, 'rc'), database: uniqueDatabase('a') });
    const b = await openStore({ path: join(dir, 'rc'), database: uniqueDatabase('b') });
    try {
      await a.exec('CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x');
      await b.exec('CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x');
      // Close a while b has work in flight: b's work finishes, b stays usable.
      const pending = b.insert(
        't',
        Array.from({ length: 1000 }, (_, i) => ({ x: i % 200 })),
      );
      await a.close();
      await pending;
      assert.deepEqual(await b.query('SELECT count() AS n FROM t'), [{ n: 1000 }]);
      assert.equal(chdbEnginePath(), join(dir, 'rc'));
    } finally {
      await b.close();
    }
    assert.equal(chdbEnginePath(), undefined);
  });

  it('opens the engine at a new path once every store has closed, and keeps data across reopen', async () => {
    const db = uniqueDatabase('keep');
    const p1 = join(dir, 'p1');
    const s1 = await openStore({ path: p1, database: db });
    await s1.exec('CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x');
    await s1.insert('t', [{ x: 7 }]);
    await s1.close();

    const s2 = await openStore({ path: join(dir, 'p2'), database: db });
    try {
      assert.equal(chdbEnginePath(), join(dir, 'p2'));
      assert.deepEqual(await s2.query('SELECT name FROM system.tables WHERE database = currentDatabase()'), []);
    } finally {
      await s2.close();
    }

    const s3 = await openStore({ path: p1, database: db });
    try {
      assert.deepEqual(await s3.query('SELECT x FROM t'), [{ x: 7 }]);
    } finally {
      await s3.close();
    }
  });

  it('clears RowBinary payloads a dead process left behind when it opens the engine at a path', async () => {
    const path = join(dir, 'left-behind');
    await mkdir(join(path, 'insert-files'), { recursive: true });
    await writeFile(join(path, 'insert-files', 'stale.rowbinary'), Buffer.alloc(1024));
    const store = await openStore({ path, database: uniqueDatabase('stale') });
    try {
      assert.deepEqual(await readdir(path).then((names) => names.filter((n) => n === 'insert-files')), []);
    } finally {
      await store.close();
    }
  });

  it('runs a heavy query off the event loop', async () => {
    const store = await openStore({ path: join(dir, 'loop'), database: uniqueDatabase('loop') });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const started = performance.now();
      const [row] = await store.query<{ h: number }>('SELECT max(sipHash64(number)) > 0 AS h FROM numbers(30000000)');
      const elapsed = performance.now() - started;
      clearInterval(timer);
      assert.deepEqual(row, { h: 1 });
      // A blocked loop would tick 0 times; allow for a slow, busy machine.
      assert.ok(ticks >= Math.min(3, Math.floor(elapsed / 50)), `only ${ticks} ticks in ${elapsed.toFixed(0)} ms`);
    } finally {
      await store.close();
    }
  });

  it('exposes the raw chdb session of a store, bound to its database', async () => {
    const store = await openStore({ path: join(dir, 'raw'), database: uniqueDatabase('raw') });
    try {
      const session = chdbSession(store);
      const result = await session.queryAsync('SELECT currentDatabase() AS db', { format: 'JSONEachRow' });
      assert.deepEqual(result.json(), { db: store.database });
    } finally {
      await store.close();
    }
    assert.throws(() => chdbSession(store), /closed/);
  });
});
