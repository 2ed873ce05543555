import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { service as healthDefinition } from 'grpc-health-check';
import { waitFor } from '../events/testing.js';
import { grpc, type GrpcJs } from '../grpc/index.js';
import { startNatsProcess, type NatsProcess } from './nats-process.js';
import { createReadiness, queryCheck, type ReadinessReport } from './readiness.js';
import { freePort, startServiceProcess, type ServiceProcess } from './service-process.js';
import { supervise, type Supervisor } from './supervisor.js';

describe('createReadiness', () => {
  it('is not ready until started, then combines its named checks into one report with the reasons', async () => {
    let nats: string | undefined;
    const changes: ReadinessReport[] = [];
    const readiness = createReadiness(
      [{ name: 'nats', check: () => nats }, queryCheck('store', { driver: 'chdb', query: () => Promise.reject(new Error('never asked')) })],
      {
        onChange: (report) => changes.push(report),
      },
    );
    assert.deepEqual(await readiness.evaluate(), { status: 'not ready', reason: 'starting', checks: {} });
    readiness.setStarted(true);
    assert.deepEqual(await readiness.evaluate(), { status: 'ready', checks: { nats: 'ok', store: 'ok' } });
    nats = 'connection to 127.0.0.1:4223 lost, reconnecting';
    assert.deepEqual(await readiness.evaluate(), {
      status: 'not ready',
      reason: 'nats: connection to 127.0.0.1:4223 lost, reconnecting',
      checks: { nats: 'connection to 127.0.0.1:4223 lost, reconnecting', store: 'ok' },
    });
    await readiness.evaluate();
    nats = undefined;
    assert.equal((await readiness.evaluate()).status, 'ready');
    assert.deepEqual(
      changes.map((c) => c.status),
      ['not ready', 'ready'],
      'each change is told once, start-up is not a change',
    );
  });

  it('fails a check that throws or does not answer in time, and a server store that does not answer SELECT 1', async () => {
    const readiness = createReadiness(
      [
        { name: 'slow', check: () => new Promise<undefined>(() => {}) },
        {
          name: 'broken',
          check: () => {
            throw new Error('boom');
          },
        },
        queryCheck('database', { driver: 'pg', query: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) }),
      ],
      { timeoutMs: 50 },
    );
    readiness.setStarted(true);
    const report = await readiness.evaluate();
    assert.equal(report.status, 'not ready');
    assert.deepEqual(report.checks, {
      slow: 'no answer within 50 ms',
      broken: 'boom',
      database: 'pg unreachable: connect ECONNREFUSED 127.0.0.1:5432',
    });
    assert.equal(
      report.reason,
      'slow: no answer within 50 ms; broken: boom; database: pg unreachable: connect ECONNREFUSED 127.0.0.1:5432',
    );
  });
});

/** grpc.health.v1 Check of one service name on a server. */
function healthOf(port: number, service: string): Promise<string> {
  const Health = grpc.makeGenericClientConstructor(healthDefinition as GrpcJs.ServiceDefinition, 'Health');
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as GrpcJs.Client & Record<string, Function>;
  return new Promise<string>((resolve, reject) =>
    client.Check({ service }, { deadline: Date.now() + 3_000 }, (error: GrpcJs.ServiceError | null, response: { status: string }) => {
      client.close();
      if (error) reject(error);
      else resolve(response.status);
    }),
  ).catch((error: Error) => `error: ${error.message}`);
}

async function readyz(metricsPort: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/readyz`, { signal: AbortSignal.timeout(3_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('a service whose nats-server dies under it (real nats-server, supervised, and the real ingestion service)', () => {
  let dir: string;
  let nats: Supervisor<NatsProcess>;
  let ingestion: ServiceProcess;
  const lines: string[] = [];
  const SERVICE = 'nepse.ingestion.v1.IngestionService';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nepse-readiness-'));
    const port = await freePort();
    nats = await supervise({
      name: 'nats-server',
      start: () => startNatsProcess({ port, storeDir: join(dir, 'nats'), serverName: `nepse-readiness-${port}` }),
      initialDelayMs: 500,
      log: (line) => void lines.push(line),
    });
    ingestion = await startServiceProcess('ingestion', {
      env: { NATS_URL: nats.child!.url, DATA_DIR: join(dir, 'data') },
      output: 'ignore',
    });
  });

  after(async () => {
    await ingestion?.stop();
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /readyz 503 with the reason and NOT_SERVING while NATS is down, /healthz 200 throughout, and is ready again once the supervisor has restarted NATS', async () => {
    assert.deepEqual(await readyz(ingestion.metricsPort), { status: 200, body: { status: 'ready', checks: { nats: 'ok', store: 'ok' } } });
    assert.equal(await healthOf(ingestion.port, SERVICE), 'SERVING');

    process.kill(nats.child!.pid!, 'SIGKILL');

    const down = await waitFor(
      async () => {
        const answer = await readyz(ingestion.metricsPort);
        return answer.status === 503 ? answer : undefined;
      },
      '/readyz to answer 503',
      { timeoutMs: 10_000 },
    );
    assert.equal(down.body.status, 'not ready');
    assert.match(String(down.body.reason), /^nats: connection to .+ lost, reconnecting$/);
    assert.equal((down.body.checks as Record<string, string>).store, 'ok');
    await waitFor(async () => (await healthOf(ingestion.port, SERVICE)) === 'NOT_SERVING', 'grpc health NOT_SERVING', { timeoutMs: 5_000 });
    assert.equal(
      (await fetch(`http://127.0.0.1:${ingestion.metricsPort}/healthz`)).status,
      200,
      'alive all the same: no reason to restart the service',
    );

    await waitFor(async () => (await readyz(ingestion.metricsPort)).status === 200, '/readyz 200 after NATS is back', {
      timeoutMs: 20_000,
    });
    await waitFor(async () => (await healthOf(ingestion.port, SERVICE)) === 'SERVING', 'grpc health SERVING again', { timeoutMs: 5_000 });
    assert.equal(nats.restarts, 1);
    assert.match(lines[0], /^make dev: nats-server exited unexpectedly \(signal SIGKILL\); restarting in 500 ms/);
    assert.equal(ingestion.child.exitCode, null, 'the service rode it out');
  });
});
