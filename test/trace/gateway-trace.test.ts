/**
 * One trace from an outside caller through the gateway to the prediction service: the gateway
 * makes a server span of its own for the call, as a child of the caller's traceparent, and the
 * service's span descends from it. Both of the gateway's paths are followed: a gRPC call
 * (forwarded as bytes) and a Connect call (through connect-node). The mesh runs in this process
 * around one tracer provider whose spans land in memory; every hop is a real socket.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing, stopTracing } from '../../lib/telemetry/tracing.js';

// Tracing must hook @grpc/grpc-js before anything loads it: everything else is imported below.
const exported = new InMemorySpanExporter();
startTracing({ serviceName: 'gateway-trace-test', processors: [new SimpleSpanProcessor(exported)] });

const { createClient } = await import('@connectrpc/connect');
const { createConnectTransport, createGrpcTransport } = await import('@connectrpc/connect-node');
const { PredictionService } = await import('../../gen/nepse/prediction/v1/prediction_pb.js');
const { waitFor } = await import('../../lib/events/testing.js');
const { startGatewayBed } = await import('../../testing/gateway-bed.js');

const PREDICT = 'grpc.nepse.prediction.v1.PredictionService/Predict';

/** The spans from `span` up to the root of its trace, as far as they were recorded. */
function ancestry(span: ReadableSpan, spans: readonly ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const chain: ReadableSpan[] = [];
  for (let parent = byId.get(span.parentSpanContext?.spanId ?? ''); parent; parent = byId.get(parent.parentSpanContext?.spanId ?? ''))
    chain.push(parent);
  return chain;
}

describe('tracing through the gateway', { timeout: 180_000 }, () => {
  let bed: Awaited<ReturnType<typeof startGatewayBed>>;
  before(async () => {
    bed = await startGatewayBed({ symbols: ['NABIL'] });
  });
  after(async () => {
    await bed?.stop();
    await stopTracing();
  });

  for (const protocol of ['gRPC', 'Connect'] as const) {
    it(`${protocol}: the gateway's server span is the caller's child and the service's span descends from it`, async () => {
      // The caller's span, as an outside client would send it (neither transport here is instrumented).
      const traceId = randomBytes(16).toString('hex');
      const callerSpanId = randomBytes(8).toString('hex');
      const transport =
        protocol === 'gRPC' ? createGrpcTransport({ baseUrl: bed.url }) : createConnectTransport({ baseUrl: bed.url, httpVersion: '1.1' });
      const answer = await createClient(PredictionService, transport).predict(
        { symbol: 'NABIL' },
        { headers: { authorization: `Bearer ${bed.keys.viewer}`, traceparent: `00-${traceId}-${callerSpanId}-01` }, timeoutMs: 10_000 },
      );
      assert.equal(answer.prediction?.symbol, 'NABIL');

      const inTrace = () => exported.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      const gatewaySpan = () => inTrace().find((s) => s.kind === SpanKind.SERVER && s.parentSpanContext?.spanId === callerSpanId);
      const serviceSpan = () => inTrace().find((s) => s.kind === SpanKind.SERVER && s.name === PREDICT && s !== gatewaySpan());
      await waitFor(
        () => gatewaySpan() !== undefined && serviceSpan() !== undefined,
        'the gateway and the prediction service to end their spans',
        { timeoutMs: 10_000 },
      );

      const gateway = gatewaySpan()!;
      assert.equal(gateway.name, PREDICT);
      assert.deepEqual(
        {
          system: gateway.attributes['rpc.system'],
          service: gateway.attributes['rpc.service'],
          method: gateway.attributes['rpc.method'],
          code: gateway.attributes['rpc.grpc.status_code'],
        },
        { system: 'grpc', service: 'nepse.prediction.v1.PredictionService', method: 'Predict', code: 0 },
      );
      const service = serviceSpan()!;
      assert.ok(ancestry(service, inTrace()).includes(gateway), "the prediction service's span descends from the gateway's");
    });
  }
});
