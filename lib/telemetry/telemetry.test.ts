import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Gauge } from 'prom-client';
import { createLogger, type Logger } from './logger.js';
import { grpcClientObserver, grpcServerObserver, metricsRegistry } from './metrics.js';
import { startTelemetryServer, type TelemetryServer } from './http.js';
import { startTracing, stopTracing } from './tracing.js';
import { parseExposition, type Sample } from './exposition.js';

// Tracing starts before anything loads @grpc/grpc-js, as lib/telemetry/preload.ts does in a
// service, so the gRPC instrumentation can hook it; hence the dynamic imports below.
const exported = new InMemorySpanExporter();
startTracing({ serviceName: 'telemetry-test', processors: [new SimpleSpanProcessor(exported)] });
const { createGrpcClient, createGrpcServer, implement, InvalidArgumentError } = await import('../grpc/index.js');
const { IngestionService } = await import('../../gen/nepse/ingestion/v1/ingestion_pb.js');

/** A pino destination that keeps each line, parsed. */
function captureLogs() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, destination: { write: (line: string) => void lines.push(JSON.parse(line)) } };
}

/** The value of the one sample of `name` whose labels include `labels`; fails when not exactly one. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0].value;
}

const get = async (port: number, path: string) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
};

describe('telemetry', { timeout: 20_000 }, () => {
  let http: TelemetryServer;
  let ready = false;

  before(async () => {
    http = await startTelemetryServer({ port: 0, host: '127.0.0.1', isReady: () => ready });
  });

  after(async () => {
    await http?.close();
    await stopTracing();
  });

  describe('HTTP server', () => {
    it('answers /healthz 200 at once and /readyz 503 until ready, then 200', async () => {
      assert.ok(http.port > 0);
      assert.deepEqual(await get(http.port, '/healthz'), { status: 200, type: 'text/plain', body: 'ok\n' });
      assert.equal((await get(http.port, '/readyz')).status, 503);
      ready = true;
      assert.deepEqual(await get(http.port, '/readyz?verbose=1'), { status: 200, type: 'text/plain', body: 'ready\n' });
      ready = false;
      assert.equal((await get(http.port, '/readyz')).status, 503);
      assert.equal((await get(http.port, '/nothing')).status, 404);
    });

    it('answers 500 when a metric collector throws, and keeps serving', async () => {
      new Gauge({
        name: 'test_broken_collector',
        help: 'A gauge whose collect callback fails.',
        registers: [metricsRegistry],
        collect() {
          throw new Error('collector failed');
        },
      });
      try {
        assert.equal((await get(http.port, '/metrics')).status, 500);
      } finally {
        metricsRegistry.removeSingleMetric('test_broken_collector');
      }
      assert.equal((await get(http.port, '/healthz')).status, 200);
      assert.equal((await get(http.port, '/metrics')).status, 200);
    });
  });

  describe('gRPC metrics and logs', () => {
    const logs = captureLogs();
    let logger: Logger;
    let server: ReturnType<typeof createGrpcServer>;
    let client: ReturnType<typeof createGrpcClient<typeof IngestionService>>;

    before(async () => {
      logger = createLogger('metrics-test', 'info', logs.destination);
      server = createGrpcServer({
        observer: grpcServerObserver(logger),
        services: [
          implement(IngestionService, {
            listSymbols(request) {
              if (request.pageToken === 'bad') throw new InvalidArgumentError({ field: 'page_token', description: 'malformed' });
              if (request.pageToken === 'crash') throw new Error('disk on fire');
              return { nextPageToken: 'next' };
            },
            async *getBars() {
              yield { bars: [{ symbol: 'NABIL' }] };
              yield { bars: [{ symbol: 'NABIL' }] };
            },
            ingestBars: async () => ({}),
            importCsv: async () => ({}),
          }),
        ],
      });
      const port = await server.listen(0, '127.0.0.1');
      client = createGrpcClient(IngestionService, `127.0.0.1:${port}`, { observer: grpcClientObserver() });
      await client.waitForReady(5_000);
    });

    after(async () => {
      client?.close();
      await server?.stop(1_000);
    });

    it('exposes grpc_server_handled_total per method and code after real calls', async () => {
      await client.listSymbols({});
      await assert.rejects(client.listSymbols({ pageToken: 'bad' }));
      await assert.rejects(client.listSymbols({ pageToken: 'crash' }));
      for await (const _ of client.getBars({ symbol: 'NABIL' }));

      const { status, type, body } = await get(http.port, '/metrics');
      assert.equal(status, 200);
      assert.match(type, /^text\/plain; version=0\.0\.4/);
      const { samples, families } = parseExposition(body);
      assert.equal(families.get('grpc_server_handled_total')?.type, 'counter');
      assert.equal(families.get('grpc_server_handling_seconds')?.type, 'histogram');
      const unary = { grpc_service: 'nepse.ingestion.v1.IngestionService', grpc_method: 'ListSymbols', grpc_type: 'unary' };
      assert.equal(valueOf(samples, 'grpc_server_handled_total', { ...unary, grpc_code: 'OK' }), 1);
      assert.equal(valueOf(samples, 'grpc_server_handled_total', { ...unary, grpc_code: 'INVALID_ARGUMENT' }), 1);
      assert.equal(valueOf(samples, 'grpc_server_handled_total', { ...unary, grpc_code: 'INTERNAL' }), 1);
      assert.equal(
        valueOf(samples, 'grpc_server_handled_total', { grpc_method: 'GetBars', grpc_type: 'server_stream', grpc_code: 'OK' }),
        1,
      );
      assert.equal(samples.filter((s) => s.name === 'grpc_server_handled_total').length, 4, 'no other series');
      assert.equal(valueOf(samples, 'grpc_server_handling_seconds_count', { ...unary, grpc_code: 'OK' }), 1);
      assert.equal(valueOf(samples, 'grpc_server_handling_seconds_bucket', { ...unary, grpc_code: 'OK', le: '+Inf' }), 1);
      assert.ok(valueOf(samples, 'grpc_server_handling_seconds_sum', { ...unary, grpc_code: 'OK' }) > 0);
      // The client side counts the same calls from its end.
      assert.equal(valueOf(samples, 'grpc_client_handled_total', { ...unary, grpc_code: 'INVALID_ARGUMENT' }), 1);
      assert.equal(valueOf(samples, 'grpc_client_handled_total', { grpc_method: 'GetBars', grpc_code: 'OK' }), 1);
    });

    it("logs an error line with the cause only for the server's own faults", () => {
      const failures = logs.lines.filter((line) => line.msg === 'rpc failed');
      assert.equal(failures.length, 1, JSON.stringify(logs.lines));
      const [failure] = failures;
      assert.equal(failure.level, 'error');
      assert.equal(failure.service, 'metrics-test');
      assert.equal(failure.rpc, 'nepse.ingestion.v1.IngestionService/ListSymbols');
      assert.equal(failure.code, 'INTERNAL');
      assert.equal((failure.err as { message: string }).message, 'disk on fire');
      // INVALID_ARGUMENT is the caller's fault: a debug line, below the logger's info level.
      assert.ok(!logs.lines.some((line) => line.code === 'INVALID_ARGUMENT'));
    });
  });

  describe('logger', () => {
    it('writes JSON lines with the service, level name and ISO time', () => {
      const logs = captureLogs();
      const logger = createLogger('prediction', 'debug', logs.destination);
      logger.debug({ symbol: 'NABIL' }, 'predicted');
      assert.equal(logs.lines.length, 1);
      const [line] = logs.lines;
      assert.equal(line.service, 'prediction');
      assert.equal(line.level, 'debug');
      assert.equal(line.msg, 'predicted');
      assert.equal(line.symbol, 'NABIL');
      assert.ok(!Number.isNaN(Date.parse(String(line.time))) && String(line.time).endsWith('Z'));
      assert.equal('trace_id' in line, false, 'no trace id outside a span');
    });

    it('adds trace_id and span_id inside an active span', () => {
      const logs = captureLogs();
      const logger = createLogger('prediction', 'info', logs.destination);
      const tracer = trace.getTracer('telemetry-test');
      const ids = tracer.startActiveSpan('predict', (span) => {
        logger.info('inside');
        span.end();
        return span.spanContext();
      });
      logger.info('outside');
      assert.match(ids.traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(ids.traceId, '0'.repeat(32), 'a real provider is recording');
      assert.equal(logs.lines[0].trace_id, ids.traceId);
      assert.equal(logs.lines[0].span_id, ids.spanId);
      assert.equal('trace_id' in logs.lines[1], false);
    });

    it('redacts secrets at the top level and one level down', () => {
      const logs = captureLogs();
      const logger = createLogger('gateway', 'info', logs.destination);
      logger.info(
        {
          password: 'p1',
          apiKey: 'k1',
          authorization: 'Bearer t1',
          db: { password: 'p2' },
          request: { apiKey: 'k2', authorization: 'Bearer t2' },
        },
        'secrets',
      );
      const text = JSON.stringify(logs.lines[0]);
      for (const secret of ['p1', 'k1', 't1', 'p2', 'k2', 't2']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
      assert.equal(logs.lines[0].password, '[redacted]');
    });
  });

  describe('tracing through gRPC', () => {
    it("carries the caller's trace into the server: its spans and its log lines", async () => {
      exported.reset();
      const logs = captureLogs();
      const logger = createLogger('ingestion', 'info', logs.destination);
      const server = createGrpcServer({
        services: [
          implement(IngestionService, {
            listSymbols() {
              logger.info('serving');
              return {};
            },
            async *getBars() {},
            ingestBars: async () => ({}),
            importCsv: async () => ({}),
          }),
        ],
      });
      const port = await server.listen(0, '127.0.0.1');
      const client = createGrpcClient(IngestionService, `127.0.0.1:${port}`);
      try {
        const traceId = await trace.getTracer('telemetry-test').startActiveSpan('caller', async (span) => {
          await client.listSymbols({});
          span.end();
          return span.spanContext().traceId;
        });
        assert.equal(logs.lines.length, 1);
        assert.equal(logs.lines[0].trace_id, traceId, "the handler's log line joins the caller's trace");
        const serverSpan = exported.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);
        assert.ok(
          serverSpan,
          `a server span was recorded: ${exported
            .getFinishedSpans()
            .map((s) => s.name)
            .join(', ')}`,
        );
        assert.equal(serverSpan.spanContext().traceId, traceId);
        assert.match(serverSpan.name, /IngestionService\/ListSymbols/);
      } finally {
        client.close();
        await server.stop(1_000);
      }
    });

    it('writes one debug line per call and one error line per server fault, each in the trace of the call', async () => {
      const logs = captureLogs();
      const logger = createLogger('ingestion', 'debug', logs.destination);
      const server = createGrpcServer({
        observer: grpcServerObserver(logger),
        services: [
          implement(IngestionService, {
            listSymbols(request) {
              if (request.pageToken === 'crash') throw new Error('disk on fire');
              return {};
            },
            async *getBars() {},
            ingestBars: async () => ({}),
            importCsv: async () => ({}),
          }),
        ],
      });
      const port = await server.listen(0, '127.0.0.1');
      const client = createGrpcClient(IngestionService, `127.0.0.1:${port}`);
      try {
        const tracer = trace.getTracer('telemetry-test');
        const ok = await tracer.startActiveSpan('caller-ok', async (span) => {
          await client.listSymbols({});
          span.end();
          return span.spanContext().traceId;
        });
        const failed = await tracer.startActiveSpan('caller-failed', async (span) => {
          await assert.rejects(client.listSymbols({ pageToken: 'crash' }));
          span.end();
          return span.spanContext().traceId;
        });
        const rpcLines = logs.lines.filter((line) => line.rpc === 'nepse.ingestion.v1.IngestionService/ListSymbols');
        assert.equal(rpcLines.length, 2, JSON.stringify(logs.lines));
        const [debug, error] = rpcLines;
        assert.deepEqual([debug.level, debug.msg, debug.code, debug.trace_id], ['debug', 'rpc', 'OK', ok]);
        assert.match(String(debug.span_id), /^[0-9a-f]{16}$/);
        assert.equal(typeof debug.duration_ms, 'number');
        assert.deepEqual([error.level, error.msg, error.code, error.trace_id], ['error', 'rpc failed', 'INTERNAL', failed]);
      } finally {
        client.close();
        await server.stop(1_000);
      }
    });

    it('starts again after stopTracing, with the new provider in charge', async () => {
      await stopTracing();
      const again = new InMemorySpanExporter();
      startTracing({ serviceName: 'telemetry-test', processors: [new SimpleSpanProcessor(again)] });
      trace.getTracer('telemetry-test').startActiveSpan('after-restart', (span) => span.end());
      assert.deepEqual(
        again.getFinishedSpans().map((s) => s.name),
        ['after-restart'],
      );
    });
  });
});
