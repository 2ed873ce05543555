import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { databaseContract, uniqueSchema } from './database-contract.js';
import { DatabaseUnavailableError } from './errors.js';
import { openDatabase } from './open-database.js';
import { createThrowawayDatabase } from './testing.js';

// One throw-away database for this file; each case gets its own schema in it.
const server = await createThrowawayDatabase();
const skip = server.skip ? `${server.skip}; the PGlite run covers the contract` : false;
if (server.skip) console.log(`# skipping PostgreSQL server tests: ${server.skip}`);

after(async () => {
  await server.database?.drop();
});

describe('pg database (real PostgreSQL server)', () => {
  databaseContract(() => openDatabase({ url: server.database!.url, schema: uniqueSchema(), applicationName: 'nepse-test' }), { skip });

  it('keeps schemas of one database apart', { skip }, async () => {
    const a = await openDatabase({ url: server.database!.url, schema: uniqueSchema('a') });
    const b = await openDatabase({ url: server.database!.url, schema: uniqueSchema('b') });
    try {
      assert.equal(a.driver, 'pg');
      await a.query('CREATE TABLE same (x int)');
      await b.query('CREATE TABLE same (x int)');
      await a.query('INSERT INTO same VALUES (1)');
      assert.deepEqual(await b.query('SELECT count(*)::int AS n FROM same'), [{ n: 0 }]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('pg database when the server cannot be reached', () => {
  it('reports a refused connection as DatabaseUnavailableError at open', async () => {
    const probe = createServer();
    const port = await new Promise<number>((resolve) =>
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)),
    );
    await new Promise((resolve) => probe.close(resolve));
    await assert.rejects(openDatabase({ url: `postgres://nobody@127.0.0.1:${port}/none`, connectTimeoutMs: 1_000 }), (e: unknown) => {
      assert.ok(e instanceof DatabaseUnavailableError);
      assert.match(e.message, /ECONNREFUSED/);
      return true;
    });
  });

  it('reports a server that never answers as DatabaseUnavailableError within the connect timeout', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
    );
    try {
      const started = Date.now();
      await assert.rejects(
        openDatabase({ url: `postgres://nobody@127.0.0.1:${port}/none`, connectTimeoutMs: 300 }),
        DatabaseUnavailableError,
      );
      assert.ok(Date.now() - started < 3_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
