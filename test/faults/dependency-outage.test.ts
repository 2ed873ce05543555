/**
 * A store or bus that goes down under a running service is UNAVAILABLE (retryable, with RetryInfo)
 * naming the dependency, in every service that has one on its request path, never INTERNAL.
 * Training and prediction have none: training keeps its jobs in a file and publishes after the
 * call, prediction publishes from a queue that never holds an answer back; their outages of the
 * feature service and the registry are UNAVAILABLE or degraded answers tested beside them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { grpc, statusDetails } from '../../lib/grpc/index.js';
import { createThrowawayDatabase } from '../../lib/postgres/testing.js';
import { DEFAULT_FEATURE_SET } from '../../testing/market.js';
import { linearModel, registerRequests, registrationFor } from '../../testing/models.js';
import { TestNetwork } from '../../testing/network.js';
import { clickHouseStandIn, cuttableProxy } from '../../testing/outages.js';

/** The status a call failed with, with its details. */
async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    const details = statusDetails(error);
    assert.ok(details, `not a status with details: ${String(error)}`);
    return details;
  }
  assert.fail('the call succeeded');
}

function assertUnavailable(details: Awaited<ReturnType<typeof failure>>, dependency: RegExp) {
  assert.equal(details.code, grpc.status.UNAVAILABLE, `${details.code} ${details.message}`);
  assert.match(details.message, dependency);
  assert.equal(details.retryDelayMs, 1_000);
}

const deadline = () => ({ timeoutMs: 10_000 });

describe('a ClickHouse server that goes down under ingestion, feature and monitoring', () => {
  it('makes each answer UNAVAILABLE naming ClickHouse, not INTERNAL', async () => {
    await using clickhouse = await clickHouseStandIn();
    const env = { CLICKHOUSE_URL: `http://nepse:s3cret@${clickhouse.address}` };
    await using network = await TestNetwork.create({ services: ['ingestion', 'feature', 'monitoring'], env });
    // Up: the calls reach the store and answer.
    await network.client('ingestion').listSymbols({}, deadline());
    await network.client('monitoring').listAlerts({}, deadline());

    await clickhouse.cut();
    const answers = {
      ingestion: await failure(network.client('ingestion').listSymbols({}, deadline())),
      feature: await failure(
        network.client('feature').getFeatures({ symbol: 'NABIL', asOf: { year: 2024, month: 1, day: 15 } }, deadline()),
      ),
      monitoring: await failure(network.client('monitoring').listAlerts({}, deadline())),
    };
    for (const [service, details] of Object.entries(answers)) {
      assert.doesNotMatch(details.message, /s3cret|nepse:/, `${service} leaks the URL`);
      assertUnavailable(details, /^ClickHouse is unavailable: connection (refused|reset|dropped)$/);
    }
  });
});

describe('the registry when its dependencies go down', async () => {
  const postgres = await createThrowawayDatabase();
  after(() => postgres.database?.drop());

  it('answers UNAVAILABLE naming PostgreSQL once the database is cut off', { skip: postgres.skip ?? false }, async () => {
    const url = new URL(postgres.database!.url);
    await using proxy = await cuttableProxy(`${url.hostname}:${url.port || 5432}`);
    url.host = proxy.address;
    await using network = await TestNetwork.create({ services: ['registry'], registry: { env: { DATABASE_URL: url.toString() } } });
    await network.client('registry').listModels({}, deadline());

    await proxy.cut();
    assertUnavailable(await failure(network.client('registry').listModels({}, deadline())), /^PostgreSQL is unavailable: /);
  });

  it('answers UNAVAILABLE naming NATS for an artifact while nats-server is down', async () => {
    // On PostgreSQL when there is one: PGlite is as good here but starts far slower on a busy machine.
    const registryEnv: Record<string, string> = postgres.database ? { DATABASE_URL: postgres.database.url } : {};
    await using network = await TestNetwork.create({ services: ['feature', 'registry'], registry: { env: registryEnv } });
    const width = DEFAULT_FEATURE_SET.features.length;
    const registry = network.client('registry');
    const model = linearModel({ width, weights: Array.from({ length: width }, () => 0.001), bias: 0 });
    const { modelVersion } = await registry.registerModel(registerRequests(registrationFor('outage-linear', width), model), deadline());
    await network.nats.stop();
    const details = await failure(
      (async () => {
        for await (const _ of registry.downloadArtifact({ name: 'outage-linear', version: modelVersion!.version }, deadline()));
      })(),
    );
    assertUnavailable(details, /^NATS is unavailable: /);
  });
});
