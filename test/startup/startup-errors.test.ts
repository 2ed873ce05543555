import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, ROOT } from '../../lib/runtime/service-process.js';

/** What a service printed and how it ended. */
interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Array<Record<string, unknown>>;
  stdout: string;
  stderr: string;
}

/** Runs `services/<name>/main.ts` with `env` until it exits (killed after 90 s, which fails the test). */
function runService(name: string, env: Record<string, string>, dataDir: string): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'services', name, 'main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      BIND_HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      [`${name.toUpperCase()}_PORT`]: '0',
      NATS_URL: 'nats://127.0.0.1:9',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Wait for the pipes to drain: exit can come before the last chunk.
      setImmediate(() => {
        const lines = stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        resolve({ code, signal, lines, stdout, stderr });
      });
    }),
  );
}

/** The one fatal/error line a failed start must print, checked to be the only one. */
function failure(outcome: Outcome): Record<string, unknown> {
  assert.equal(outcome.signal, null, `exited by itself, not killed: ${outcome.stderr}`);
  assert.equal(outcome.code, 1, `exit code 1: ${outcome.stdout}${outcome.stderr}`);
  assert.equal(outcome.stderr, '', 'no raw stack on stderr');
  const bad = outcome.lines.filter((line) => line.level === 'fatal' || line.level === 'error');
  assert.equal(bad.length, 1, `exactly one fatal/error line: ${outcome.stdout}`);
  assert.equal(bad[0].level, 'fatal');
  return bad[0];
}

describe('a service that cannot start says why in one JSON line and exits 1 (real services, bad settings)', () => {
  let dir: string;
  let closedPort: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nepse-startup-'));
    closedPort = await freePort();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('registry with a PostgreSQL that refuses: names DATABASE_URL without its password and says how to fix it', async () => {
    const outcome = await runService(
      'registry',
      { DATABASE_URL: `postgres://nepse:hunter2@127.0.0.1:${closedPort}/registry` },
      join(dir, 'registry'),
    );
    const line = failure(outcome);
    assert.equal(
      line.msg,
      `cannot connect to PostgreSQL at DATABASE_URL=postgres://nepse:***@127.0.0.1:${closedPort}/registry: connection refused; start PostgreSQL or unset DATABASE_URL to use embedded PGlite`,
    );
    assert.equal(line.variable, 'DATABASE_URL');
    assert.equal(line.service, 'registry');
    assert.ok(!outcome.stdout.includes('hunter2'), 'the password never reaches the log');
  });

  it('ingestion with NATS unreachable: a bounded number of attempts, then NATS_URL and the fix', async () => {
    const started = Date.now();
    const line = failure(await runService('ingestion', { NATS_URL: `nats://127.0.0.1:${closedPort}` }, join(dir, 'ingestion')));
    assert.match(
      String(line.msg),
      new RegExp(
        `^cannot connect to NATS at NATS_URL=nats://127\\.0\\.0\\.1:${closedPort}: connection refused \\(3 attempts over \\d+\\.\\d s\\); start nats-server \\(make dev runs one on 4223\\) or set NATS_URL`,
      ),
    );
    assert.ok(Date.now() - started < 90_000, 'no hang');
  });

  it('feature with a ClickHouse server that refuses: names CLICKHOUSE_URL without its password', async () => {
    const outcome = await runService('feature', { CLICKHOUSE_URL: `http://default:chpw@127.0.0.1:${closedPort}` }, join(dir, 'feature'));
    const line = failure(outcome);
    assert.equal(
      line.msg,
      `cannot use ClickHouse at CLICKHOUSE_URL=http://default:***@127.0.0.1:${closedPort}: connection refused; start ClickHouse (check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD) or unset CLICKHOUSE_URL to use embedded chdb`,
    );
    assert.ok(!outcome.stdout.includes('chpw'));
  });

  it('every other service: a configuration error names each variable at fault', async () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        'prediction',
        { PREDICTION_PORT: '99999' },
        /^invalid configuration: PREDICTION_PORT: Too big: expected number to be <=65535; fix this variable/,
      ],
      [
        'training',
        { LOG_LEVEL: 'loud', TRAINING_PORT: 'x' },
        /^invalid configuration: LOG_LEVEL: .*; TRAINING_PORT: .*; fix these variables/,
      ],
      ['monitoring', { CLICKHOUSE_URL: 'clickhouse-at-port-8123' }, /^invalid configuration: CLICKHOUSE_URL: /],
    ];
    const outcomes = await Promise.all(cases.map(([name, env]) => runService(name, env, join(dir, name))));
    outcomes.forEach((outcome, i) => {
      const line = failure(outcome);
      assert.match(String(line.msg), cases[i][2], cases[i][0]);
      assert.equal(line.service, cases[i][0]);
    });
  });
});
