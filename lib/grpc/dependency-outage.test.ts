import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { connect } from 'nats';
import { EventPublishError } from '../events/errors.js';
import { openDatabase } from '../postgres/open-database.js';
import { DatabaseUnavailableError } from '../postgres/errors.js';
import { openStore } from '../store/open-store.js';
import { StoreError, StoreUnavailableError } from '../store/errors.js';
import { dependencyOutage } from './dependency-outage.js';
import { detailsOf, toServiceError, toStatus } from './errors.js';
import { grpc } from './grpc-js.js';

/** A loopback port that was free a moment ago and has nothing listening on it now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server that accepts every connection and resets it at once. */
async function resetting(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.resetAndDestroy());
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
  return { server, port };
}

/** What the real driver throws for `attempt`. */
async function thrown(attempt: () => Promise<unknown>): Promise<unknown> {
  try {
    await attempt();
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure');
}

describe('dependency outages become UNAVAILABLE naming the dependency', () => {
  it('a ClickHouse server that refuses or resets connections (the real @clickhouse/client)', async () => {
    const refused = await thrown(async () => openStore({ url: `http://127.0.0.1:${await closedPort()}`, database: 'outage' }));
    assert.ok(refused instanceof StoreUnavailableError);
    assert.deepEqual(dependencyOutage(refused), { dependency: 'ClickHouse', reason: 'connection refused' });

    const { server, port } = await resetting();
    try {
      const reset = await thrown(() => openStore({ url: `http://user:s3cret@127.0.0.1:${port}`, database: 'outage' }));
      const status = toStatus(reset);
      assert.equal(status.code, grpc.status.UNAVAILABLE);
      assert.match(status.message, /^ClickHouse is unavailable: (connection reset|connection dropped)$/);
      assert.equal(detailsOf(status).retryDelayMs, 1_000, 'RetryInfo tells the client when to try again');
      assert.doesNotMatch(status.message, /s3cret|user|127\.0\.0\.1/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a PostgreSQL server that is not there (the real pg driver), without the URL or its password', async () => {
    const error = await thrown(async () => openDatabase({ url: `postgres://nepse:s3cret@127.0.0.1:${await closedPort()}/registry` }));
    assert.ok(error instanceof DatabaseUnavailableError);
    const service = toServiceError(error);
    assert.equal(service.code, grpc.status.UNAVAILABLE);
    assert.equal(service.details, 'PostgreSQL is unavailable: connection refused');
  });

  it('a NATS server that is not there, also when wrapped by the events kit', async () => {
    const error = await thrown(async () => connect({ servers: `127.0.0.1:${await closedPort()}`, reconnect: false, timeout: 1_000 }));
    assert.deepEqual(dependencyOutage(error), { dependency: 'NATS', reason: 'connection refused' });
    const wrapped = new EventPublishError('publish not acknowledged', 'nepse.v1.bars.ingested.NABIL', { cause: error });
    assert.equal(toStatus(wrapped).message, 'NATS is unavailable: connection refused');
  });

  it('the embedded engine that cannot be opened or is closed', () => {
    const cannotOpen = new StoreUnavailableError('chdb: cannot open session', {
      cause: Object.assign(new Error('cannot open session'), { code: 'CHDB_CONNECTION' }),
    });
    assert.deepEqual(dependencyOutage(cannotOpen), { dependency: 'ClickHouse (embedded)', reason: 'engine cannot be opened' });
    const closed = new StoreUnavailableError('chdb: session closed', {
      cause: Object.assign(new Error('session closed'), { code: 'CHDB_CLOSED' }),
    });
    assert.equal(toStatus(closed).message, 'ClickHouse (embedded) is unavailable: engine closed');
  });

  it('a store whose disk is full answers RESOURCE_EXHAUSTED naming it, from the code or the system error', () => {
    const server = new StoreError('Code: 243. Cannot reserve 1.00 MiB, not enough space', { clickhouseCode: 243 });
    assert.equal(toStatus(server).code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(toStatus(server).message, 'ClickHouse is out of disk space; retry once there is room');
    const embedded = new StoreError('write failed', {
      cause: Object.assign(new Error('Cannot write to file: No space left on device'), { code: 'CHDB_QUERY', clickhouseCode: 75 }),
    });
    assert.equal(toStatus(embedded).message, 'ClickHouse (embedded) is out of disk space; retry once there is room');
    assert.equal(
      toStatus(new Error('write', { cause: Object.assign(new Error('x'), { code: 'ENOSPC' }) })).code,
      grpc.status.INTERNAL,
      'only a store write is named',
    );
  });

  it('leaves a refused statement or a bug INTERNAL, with nothing leaked', () => {
    for (const error of [new StoreError('Code: 62. Syntax error', { sql: 'SELEC 1' }), new TypeError('x is undefined'), 'a string']) {
      const status = toStatus(error);
      assert.equal(status.code, grpc.status.INTERNAL);
      assert.equal(status.message, 'internal error');
    }
  });
});
