/**
 * A service started with OTEL_EXPORTER_OTLP_ENDPOINT exports its spans over OTLP/HTTP, the way a
 * collector or Jaeger receives them: POST /v1/traces with a protobuf body. The receiver here is a
 * plain HTTP server on loopback; protobuf keeps strings as they are, so the service name and the
 * method can be found in the body without decoding it. The batch delay is set longer than the test,
 * so the spans of the last call arrive only because shutdown flushes them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { startNatsServer, waitFor, type NatsTestServer } from '../../lib/events/testing.js';
import { createGrpcClient } from '../../lib/grpc/index.js';
import { startServiceProcess } from '../../lib/runtime/service-process.js';

interface Export {
  path: string;
  contentType: string;
  body: Buffer;
}

describe('OTLP export', () => {
  let nats: NatsTestServer;
  let dataDir: string;
  let collector: Server;
  const exports: Export[] = [];

  before(async () => {
    collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        exports.push({ path: request.url ?? '', contentType: request.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
        // An empty ExportTraceServiceResponse: everything accepted.
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-otlp-'));
  });

  after(async () => {
    await nats?.stop();
    await new Promise((resolve) => collector?.close(resolve));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("sends the service's spans to OTEL_EXPORTER_OTLP_ENDPOINT, flushing the last ones at shutdown", async () => {
    const service = await startServiceProcess('ingestion', {
      env: {
        NATS_URL: nats.url,
        DATA_DIR: dataDir,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
        OTEL_BSP_SCHEDULE_DELAY: '600000',
      },
    });
    const client = createGrpcClient(IngestionService, `127.0.0.1:${service.port}`, { defaultTimeoutMs: 10_000 });
    try {
      await client.listSymbols({ pageSize: 10 });
    } finally {
      client.close();
      await service.stop();
    }
    const traces = await waitFor(() => exports.filter((e) => e.path === '/v1/traces'), 'spans at the collector', { timeoutMs: 5_000 });
    assert.ok(
      traces.every((e) => e.contentType === 'application/x-protobuf'),
      traces.map((e) => e.contentType).join(),
    );
    const body = Buffer.concat(traces.map((e) => e.body));
    assert.ok(body.includes('ingestion'), 'service.name is the service');
    assert.ok(body.includes('nepse.ingestion.v1.IngestionService/ListSymbols'), 'the server span of the call');
  });
});
