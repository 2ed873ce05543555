import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from './logger.js';
import { maskCredentials, maskStrings } from './redact.js';

/** A pino destination that keeps each line, raw and parsed. */
function captureLogs() {
  const raw: string[] = [];
  return {
    raw,
    line: (i: number) => JSON.parse(raw[i]) as Record<string, unknown>,
    destination: { write: (line: string) => void raw.push(line) },
  };
}

describe('maskCredentials', () => {
  it('masks the password of connection URLs and keeps user, host, port and path', () => {
    const cases: Array<[string, string]> = [
      ['postgres://user:pass@host', 'postgres://user:***@host'],
      [
        'postgresql://nepse:s3cr%40t@db.internal:5432/registry?sslmode=require',
        'postgresql://nepse:***@db.internal:5432/registry?sslmode=require',
      ],
      ['nats://a:b@n1:4222,nats://c:d@n2:4222', 'nats://a:***@n1:4222,nats://c:***@n2:4222'],
      ['nats://s3cr3ttoken@nats:4222', 'nats://***@nats:4222'],
      ['http://default:p@ss@clickhouse:8123', 'http://default:***@clickhouse:8123'],
      ['connect ECONNREFUSED postgres://u:pw@10.0.0.1:5432 failed', 'connect ECONNREFUSED postgres://u:***@10.0.0.1:5432 failed'],
      ['postgres://host/db?user=u&password=pw&sslmode=disable', 'postgres://host/db?user=u&password=***&sslmode=disable'],
      ['https://api.example/x?api_key=abc', 'https://api.example/x?api_key=***'],
    ];
    for (const [input, expected] of cases) assert.equal(maskCredentials(input), expected, input);
  });

  it('masks keyword-form connection strings (libpq conninfo, environment assignments), quoted or not', () => {
    const cases: Array<[string, string]> = [
      ['host=db password=secret user=x', 'host=db password=*** user=x'],
      ["host=db password='se cret' user=x", 'host=db password=*** user=x'],
      ["password='it\\'s a secret' dbname=registry", 'password=*** dbname=registry'],
      ['host=db password="se cret" port=5432', 'host=db password=*** port=5432'],
      ['host = db password = secret sslmode=require', 'host = db password = *** sslmode=require'],
      ['sslmode=verify-full sslpassword=keypass sslkey=/k.pem', 'sslmode=verify-full sslpassword=*** sslkey=/k.pem'],
      ['PGPASSWORD=hunter2 psql -h db', 'PGPASSWORD=*** psql -h db'],
      ['env: PGPASSWORD=hunter2 CLICKHOUSE_PASSWORD=chpw', 'env: PGPASSWORD=*** CLICKHOUSE_PASSWORD=***'],
      ['cannot connect (host=db Password=Secret1 user=x): refused', 'cannot connect (host=db Password=*** user=x): refused'],
    ];
    for (const [input, expected] of cases) assert.equal(maskCredentials(input), expected, input);
  });

  it('leaves text without credentials alone', () => {
    for (const text of [
      'nats://127.0.0.1:4223',
      'http://127.0.0.1:51051/metrics',
      'mail me at a@b.c',
      'NABIL closed at 1,234.5',
      'a=b',
      'host=db user=x sslmode=require',
      'passwords=3 tokens=2',
    ]) {
      assert.equal(maskCredentials(text), text);
    }
  });

  it('copies objects it changes and returns the same object when nothing changes', () => {
    const config = { db: { url: 'postgres://u:pw@h/db' }, port: 1 };
    const masked = maskStrings(config);
    assert.equal(masked.db.url, 'postgres://u:***@h/db');
    assert.equal(config.db.url, 'postgres://u:pw@h/db', 'the caller keeps its config');
    const clean = { a: { b: ['x'] } };
    assert.equal(maskStrings(clean), clean);
  });
});

describe('createLogger redaction', () => {
  it('censors authorization and API-key headers, passwords and tokens, up to three levels deep', () => {
    const logs = captureLogs();
    const logger = createLogger('gateway', 'info', logs.destination);
    logger.info(
      {
        password: 'p1',
        token: 't1',
        headers: { authorization: 'Bearer t2', 'x-api-key': 'k1', 'content-type': 'application/grpc' },
        request: { metadata: { 'x-api-key': 'k2', authorization: 'Basic dTpw' }, apiKey: 'k3' },
        user: { accessToken: 't3', name: 'ops' },
        CLICKHOUSE_PASSWORD: 'p2',
      },
      'request',
    );
    const text = logs.raw[0];
    for (const secret of ['p1', 't1', 't2', 'k1', 'k2', 'k3', 'dTpw', 't3', 'p2'])
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    const line = logs.line(0) as { headers: Record<string, string>; user: { name: string } };
    assert.equal(line.headers.authorization, '[redacted]');
    assert.equal(line.headers['content-type'], 'application/grpc', 'other headers stay');
    assert.equal(line.user.name, 'ops');
  });

  it('masks credentials of DATABASE_URL and NATS URLs in fields, nested config, the message, errors and child bindings', () => {
    const logs = captureLogs();
    const logger = createLogger('registry', 'info', logs.destination);
    const config = { DATABASE_URL: 'postgres://nepse:hunter2@db:5432/registry', NATS_URL: 'nats://svc:natspw@nats:4222' };
    logger.info(
      { ...config, settings: { deep: { deeper: { target: 'postgres://x:deeppw@h/db' } } }, servers: ['nats://tok3n@n1:4222'] },
      'config',
    );
    logger.warn('cannot reach postgres://nepse:hunter2@db:5432/registry, retrying');
    logger.error({ err: new Error('connection to postgres://nepse:hunter2@db:5432 refused') }, 'open failed');
    logger.child({ url: 'nats://svc:natspw@nats:4222', password: 'childpw' }).info('child');
    logger.error(
      { err: new Error("connect to host=db password='kw pw' user=x failed"), conninfo: 'host=db password=kwpw2' },
      'keyword form',
    );
    const text = logs.raw.join('');
    for (const secret of ['hunter2', 'natspw', 'deeppw', 'tok3n', 'childpw', 'kw pw', 'kwpw2'])
      assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    const first = logs.line(0) as Record<string, unknown> & { settings: { deep: { deeper: { target: string } } } };
    assert.equal(first.DATABASE_URL, 'postgres://nepse:***@db:5432/registry', 'user and host stay for debugging');
    assert.equal(first.NATS_URL, 'nats://svc:***@nats:4222');
    assert.deepEqual(first.servers, ['nats://***@n1:4222']);
    assert.equal(first.settings.deep.deeper.target, 'postgres://x:***@h/db');
    assert.equal(logs.line(1).msg, 'cannot reach postgres://nepse:***@db:5432/registry, retrying');
    const err = logs.line(2).err as { message: string; stack: string; type: string };
    assert.equal(err.message, 'connection to postgres://nepse:***@db:5432 refused');
    assert.equal(err.type, 'Error');
    assert.match(err.stack, /postgres:\/\/nepse:\*\*\*@db/);
    assert.equal(logs.line(3).url, 'nats://svc:***@nats:4222');
    assert.equal(config.DATABASE_URL, 'postgres://nepse:hunter2@db:5432/registry', "the caller's object is untouched");
  });
});
