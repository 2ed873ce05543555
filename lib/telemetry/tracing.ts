import { context, propagation, trace, type TextMapPropagator } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

let provider: NodeTracerProvider | undefined;
let unloadInstrumentations: (() => void) | undefined;

/** Options of {@link startTracing}. */
export interface TracingOptions {
  serviceName: string;
  /** Where spans go; defaults to OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, else nowhere. */
  exporter?: SpanExporter;
  /** Extra processors (tests add an in-memory one). */
  processors?: SpanProcessor[];
}

/**
 * Starts tracing for this process: W3C trace context propagation, gRPC instrumentation, and export
 * over OTLP when configured. Must run before @grpc/grpc-js is first loaded, so services import
 * lib/telemetry/preload.ts first. Calling it again is a no-op.
 */
export function startTracing(options: TracingOptions): NodeTracerProvider {
  if (provider) return provider;
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporter = options.exporter ?? (endpoint ? new OTLPTraceExporter() : undefined);
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? options.serviceName }),
    spanProcessors: [...(exporter ? [new BatchSpanProcessor(exporter)] : []), ...(options.processors ?? [])],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() as TextMapPropagator });
  unloadInstrumentations = registerInstrumentations({ tracerProvider: provider, instrumentations: [new GrpcInstrumentation()] });
  return provider;
}

/**
 * Flushes and stops tracing (on shutdown), and unregisters it globally, so that a later
 * {@link startTracing} installs its new provider (the API refuses a second registration).
 */
export async function stopTracing(): Promise<void> {
  if (!provider) return;
  const stopping = provider;
  provider = undefined;
  unloadInstrumentations?.();
  unloadInstrumentations = undefined;
  trace.disable();
  context.disable();
  propagation.disable();
  await stopping.shutdown();
}

export { propagation };
