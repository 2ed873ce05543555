import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { StoreUnavailableError } from './errors.js';
import { openStore } from './open-store.js';
import { storeContract, uniqueDatabase } from './store-contract.js';

const url = process.env.CLICKHOUSE_URL;

describe('clickhouse server store', () => {
  storeContract(
    () =>
      openStore({
        url,
        username: process.env.CLICKHOUSE_USER,
        password: process.env.CLICKHOUSE_PASSWORD,
        database: uniqueDatabase(),
      }),
    { skip: url ? false : 'CLICKHOUSE_URL is not set, so there is no ClickHouse server to run against (the chdb run covers the contract)' },
  );
});

/** A loopback TCP server with the given connection handler, and its port. */
async function listen(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

describe('clickhouse server store when the server cannot be reached', () => {
  it('reports a refused connection as StoreUnavailableError', async () => {
    // Take a free port, then free it: nothing listens there.
    const { server, port } = await listen((s) => s.destroy());
    await new Promise((r) => server.close(r));
    await assert.rejects(openStore({ url: `http://127.0.0.1:${port}`, database: uniqueDatabase() }), (e: unknown) => {
      assert.ok(e instanceof StoreUnavailableError);
      assert.match(e.message, /ECONNREFUSED/);
      assert.match(e.sql ?? '', /CREATE DATABASE/);
      return true;
    });
  });

  it('reports a dropped connection and a silent server as StoreUnavailableError', async () => {
    const dropper = await listen((s) => s.destroy());
    const sockets: Socket[] = [];
    const silent = await listen((s) => sockets.push(s));
    try {
      await assert.rejects(openStore({ url: `http://127.0.0.1:${dropper.port}`, database: uniqueDatabase() }), StoreUnavailableError);
      await assert.rejects(
        openStore({ url: `http://127.0.0.1:${silent.port}`, database: uniqueDatabase(), requestTimeoutMs: 200 }),
        StoreUnavailableError,
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => dropper.server.close(r));
      await new Promise((r) => silent.server.close(r));
    }
  });
});
