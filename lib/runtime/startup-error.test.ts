import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../postgres/errors.js';
import { StoreUnavailableError } from '../store/errors.js';
import { explainStartupError } from './startup-error.js';

describe('explainStartupError', () => {
  it('maps a port that cannot be bound (as grpc-js or node:http report it) to its variable', () => {
    const grpcBind = new Error(
      'No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:50051]',
    );
    assert.deepEqual(explainStartupError(grpcBind, 'ingestion', {}, { INGESTION_PORT: 50051 }), {
      message: 'cannot listen on 127.0.0.1:50051: address already in use; stop what runs there or set INGESTION_PORT to a free port',
      variable: 'INGESTION_PORT',
      known: true,
    });
    const httpBind = Object.assign(new Error('listen EADDRINUSE'), {
      syscall: 'listen',
      code: 'EADDRINUSE',
      address: '127.0.0.1',
      port: 51051,
    });
    assert.equal(
      explainStartupError(httpBind, 'ingestion', {}, { INGESTION_PORT: 50051, INGESTION_METRICS_PORT: 51051 }).variable,
      'INGESTION_METRICS_PORT',
    );
  });

  it('tells an embedded store held by another process from a server that is down, and reads codes along the cause chain', () => {
    const pglite = explainStartupError(new DatabaseUnavailableError('data folder is in use by another process'), 'registry', {
      DATA_DIR: '/var/nepse',
    });
    assert.equal(
      pglite.message,
      'cannot open the embedded PGlite database under DATA_DIR=/var/nepse: data folder is in use by another process; stop the other registry that uses it, or set DATA_DIR to another folder',
    );
    const auth = new DatabaseUnavailableError('password authentication failed for user "nepse"', { code: '28P01' });
    assert.match(
      explainStartupError(auth, 'registry', { DATABASE_URL: 'host=db password=pw user=nepse' }).message,
      /^cannot connect to PostgreSQL at DATABASE_URL=host=db password=\*\*\* user=nepse: password authentication failed \(check the user and password\)/,
    );
    const dns = new StoreUnavailableError('ClickHouse server unreachable: getaddrinfo ENOTFOUND ch', {
      cause: Object.assign(new Error('getaddrinfo ENOTFOUND ch'), { code: 'ENOTFOUND' }),
    });
    assert.match(
      explainStartupError(dns, 'feature', { CLICKHOUSE_URL: 'http://ch:8123' }).message,
      /^cannot use ClickHouse at CLICKHOUSE_URL=http:\/\/ch:8123: host not found;/,
    );
  });

  it('says it does not know, with the cause, for anything else', () => {
    assert.deepEqual(explainStartupError(new TypeError('x is not a function'), 'training'), {
      message: 'training could not start: x is not a function',
      known: false,
    });
  });
});
