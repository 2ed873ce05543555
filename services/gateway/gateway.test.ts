/**
 * The gateway against the real mesh (feature, registry, prediction) on loopback: one test per
 * protocol (Connect JSON with plain fetch, gRPC-Web through connect-web, gRPC through grpc-js),
 * a server stream over Connect, an upstream error's code and details unchanged, reflection and
 * health, and the dashboard's files.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { BadRequestSchema, ErrorInfoSchema } from '../../gen/google/rpc/error_details_pb.js';
import { GatewayService, Role } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { createGrpcClient, statusDetails } from '../../lib/grpc/index.js';
import { ROOT } from '../../lib/runtime/service-process.js';
import { startGatewayBed, type GatewayBed } from '../../testing/gateway-bed.js';

const SYMBOLS = ['NABIL', 'UPPER'];
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

describe('gateway: protocols, streams and errors against the real mesh', { timeout: 180_000 }, () => {
  let bed: GatewayBed;
  before(async () => {
    bed = await startGatewayBed({ symbols: SYMBOLS });
  });
  after(async () => bed?.stop());

  test('Connect JSON with plain fetch: Predict answers the prediction as JSON', async () => {
    const response = await fetch(`${bed.url}/nepse.prediction.v1.PredictionService/Predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(bed.keys.viewer) },
      body: JSON.stringify({ symbol: 'NABIL' }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { prediction: { symbol: string; modelName: string; predictedClose: number } };
    assert.equal(body.prediction.symbol, 'NABIL');
    assert.equal(body.prediction.modelName, bed.mesh.model.name);
    assert.ok(body.prediction.predictedClose > 0);
  });

  test('gRPC-Web through connect-web: Predict and WhoAmI', async () => {
    const transport = createGrpcWebTransport({
      baseUrl: bed.url,
      interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${bed.keys.viewer}`), next(req))],
    });
    const answer = await createClient(PredictionService, transport).predict({ symbol: 'UPPER' });
    assert.equal(answer.prediction?.symbol, 'UPPER');
    const me = await createClient(GatewayService, transport).whoAmI({});
    assert.equal(me.principal, 'viewer-team');
    assert.equal(me.role, Role.VIEWER);
    assert.ok(me.rateLimit!.requestsTotal >= 2n);
    assert.equal(me.streams?.maxOpen, 8);
  });

  test('gRPC through grpc-js (h2c on the same port): Predict', async () => {
    const client = createGrpcClient(PredictionService, `127.0.0.1:${bed.gateway.port}`);
    try {
      const answer = await client.predict({ symbol: 'NABIL' }, { metadata: auth(bed.keys.viewer), timeoutMs: 5_000 });
      assert.equal(answer.prediction?.symbol, 'NABIL');
      assert.equal(answer.prediction?.modelVersion, bed.mesh.model.version);
    } finally {
      client.close();
    }
  });

  test('a server stream over Connect: WatchPredictions delivers the prediction of a bar ingested while it is open', async () => {
    const client = createClient(PredictionService, createConnectTransport({ baseUrl: bed.url, httpVersion: '1.1' }));
    const controller = new AbortController();
    // includeCurrent: the current prediction arrives once the watch is registered upstream, so the
    // bar added after it cannot slip in before the stream listens.
    const stream = client.watchPredictions(
      { symbols: ['UPPER'], includeCurrent: true },
      { headers: auth(bed.keys.viewer), signal: controller.signal, timeoutMs: 60_000 },
    );
    try {
      const iterator = stream[Symbol.asyncIterator]();
      const current = await iterator.next();
      assert.equal(current.done, false, 'the stream ended before the current prediction');
      const bar = await bed.mesh.addBar('UPPER');
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        if (next.value.kind.case !== 'prediction') continue;
        const prediction = next.value.kind.value;
        assert.equal(prediction.symbol, 'UPPER');
        const d = prediction.featureDate!;
        if (`${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}` === bar.date) return;
      }
      assert.fail("the stream ended without the new bar's prediction");
    } finally {
      controller.abort();
    }
  });

  test("an upstream error reaches the caller with the service's code, message and details", async () => {
    const bad = { symbol: 'not a symbol!' };
    let directError: unknown;
    await bed.mesh.client.predict(bad).catch((error) => (directError = error));
    const want = statusDetails(directError)!;
    assert.equal(want.code, Code.InvalidArgument);
    assert.equal(want.fieldViolations[0].field, 'symbol');

    // gRPC: the same google.rpc.Status, decoded by the kit.
    const client = createGrpcClient(PredictionService, `127.0.0.1:${bed.gateway.port}`);
    try {
      const viaGrpc = await client.predict(bad, { metadata: auth(bed.keys.viewer) }).then(
        () => assert.fail('accepted'),
        (error) => statusDetails(error),
      );
      assert.deepEqual(viaGrpc, want);
    } finally {
      client.close();
    }
    // Connect: the same code, message and details.
    const viaConnect = await createClient(PredictionService, createConnectTransport({ baseUrl: bed.url, httpVersion: '1.1' }))
      .predict(bad, { headers: auth(bed.keys.viewer) })
      .then(
        () => assert.fail('accepted'),
        (error) => ConnectError.from(error),
      );
    assert.equal(viaConnect.code, Code.InvalidArgument);
    assert.equal(viaConnect.rawMessage, want.message);
    assert.deepEqual(
      viaConnect.findDetails(BadRequestSchema)[0].fieldViolations.map((v) => v.field),
      ['symbol'],
    );
    assert.equal(viaConnect.findDetails(ErrorInfoSchema)[0].reason, want.reason);
  });

  test('reflection lists the public services, and health answers SERVING, without credentials', async () => {
    const buf = join(ROOT, 'node_modules/.bin/buf');
    const { stdout } = await promisify(execFile)(
      buf,
      ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--list-services', bed.url],
      { timeout: 30_000 },
    );
    const listed = stdout.trim().split('\n').sort();
    for (const name of [
      'nepse.gateway.v1.GatewayService',
      'nepse.prediction.v1.PredictionService',
      'nepse.registry.v1.RegistryService',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
    ]) {
      assert.ok(listed.includes(name), `${name} listed in ${listed.join(', ')}`);
    }
    const health = await fetch(`${bed.url}/grpc.health.v1.Health/Check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.deepEqual(await health.json(), { status: 'SERVING' });
  });

  test('GetMeshStatus: the running services serve, the missing ones are unreachable, each with its version', async () => {
    const client = createClient(GatewayService, createConnectTransport({ baseUrl: bed.url, httpVersion: '1.1' }));
    const status = await client.getMeshStatus({}, { headers: auth(bed.keys.viewer) });
    const byName = new Map(status.components.map((c) => [c.name, c]));
    assert.equal(byName.get('prediction')?.state, 1);
    assert.equal(byName.get('ingestion')?.state, 3);
    assert.equal(status.healthy, false);
    assert.match(byName.get('gateway')!.version, /^\d+\.\d+\.\d+ \(/);
  });

  test('the nepse CLI through the gateway (NEPSE_GATEWAY, NEPSE_API_KEY), and refused without a key', async () => {
    const run = (key?: string) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/nepse.ts', 'predict', 'NABIL'], {
        cwd: ROOT,
        timeout: 30_000,
        // Every service address points at a closed port: only the gateway can answer.
        env: {
          ...process.env,
          NEPSE_GATEWAY: `127.0.0.1:${bed.gateway.port}`,
          NEPSE_PREDICTION_ADDR: '127.0.0.1:1',
          NEPSE_API_KEY: key ?? '',
        },
      }).then(
        ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
    const ok = await run(bed.keys.viewer);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /NABIL/);
    const refused = await run();
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no credentials/);
  });

  test('the dashboard files: content types, index for /, and nothing outside the folder', async () => {
    const web = join(bed.webDir);
    await mkdir(join(web, 'assets'), { recursive: true });
    await writeFile(join(web, 'index.html'), '<!doctype html><title>NEPSE</title>');
    await writeFile(join(web, 'assets', 'app.js'), 'console.log(1)');
    const page = await fetch(`${bed.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    const script = await fetch(`${bed.url}/assets/app.js`);
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await script.text(), 'console.log(1)');
    for (const path of ['/..%2fkeys.yaml', '/%2e%2e/keys.yaml', '/assets/..%5c..%5ckeys.yaml']) {
      const response = await fetch(`${bed.url}${path}`);
      assert.ok(response.status === 400 || response.status === 404, `${path}: ${response.status}`);
      assert.doesNotMatch(await response.text(), /sha256/);
    }
  });
});
