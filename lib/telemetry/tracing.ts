import { context, propagation, trace, type TextMapPropagator } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

let provider: NodeTracerProvider | undefined;
let unloadInstrumentations: (() => void) | undefined;

/** Where spans go, as OTEL_TRACES_EXPORTER names them. */
export type TraceExporterName = 'otlp' | 'console';

/** The OpenTelemetry SDK variables this kit honours, read once ({@link tracingSettings}). */
export interface TracingSettings {
  /** Whether tracing runs at all: false with OTEL_SDK_DISABLED=true, or with nowhere to send spans and no OTEL_TRACES_ENABLED=true. */
  enabled: boolean;
  /** OTEL_SERVICE_NAME, else the name the process gave. */
  serviceName: string;
  /** Exporters from OTEL_TRACES_EXPORTER (comma separated; `none` for none); default `otlp` when an OTLP endpoint is set. */
  exporters: TraceExporterName[];
  /** OTLP/HTTP traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`, else the SDK's default. */
  otlpUrl: string | undefined;
  /** OTEL_TRACES_SAMPLER, default `parentbased_always_on`. */
  sampler: string;
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers, 0..1; default 1. */
  samplerRatio: number;
}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

/** A tracing variable with a value the kit cannot use; the message names the variable and what it takes. */
export class TracingSettingError extends Error {
  override name = 'TracingSettingError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/**
 * Reads the standard OpenTelemetry variables: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp,
 * console, none), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT beside OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG. Unlike the specification's
 * default of `otlp`, nothing is exported unless an exporter or an endpoint is named, so a local run
 * sends nothing to a collector that is not there.
 * @throws TracingSettingError for a value outside what the specification allows.
 */
export function tracingSettings(env: NodeJS.ProcessEnv, serviceName: string): TracingSettings {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const otlpUrl = traces || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  const named = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean);
  for (const name of named) {
    if (name !== 'otlp' && name !== 'console' && name !== 'none')
      throw new TracingSettingError('OTEL_TRACES_EXPORTER', `"${name}" is not one of otlp, console, none`);
  }
  const exporters: TraceExporterName[] =
    named.length === 0 ? (otlpUrl ? ['otlp'] : []) : named.includes('none') ? [] : [...new Set(named as TraceExporterName[])];
  const sampler = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase();
  if (!SAMPLERS.includes(sampler))
    throw new TracingSettingError('OTEL_TRACES_SAMPLER', `"${sampler}" is not one of ${SAMPLERS.join(', ')}`);
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const samplerRatio = arg ? Number(arg) : 1;
  if (sampler.endsWith('traceidratio') && !(samplerRatio >= 0 && samplerRatio <= 1)) {
    throw new TracingSettingError('OTEL_TRACES_SAMPLER_ARG', `"${arg}" is not a probability between 0 and 1`);
  }
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  return {
    enabled: !disabled && (exporters.length > 0 || env.OTEL_TRACES_ENABLED === 'true'),
    serviceName: env.OTEL_SERVICE_NAME?.trim() || serviceName,
    exporters,
    otlpUrl,
    sampler,
    samplerRatio,
  };
}

/** The sampler a {@link TracingSettings} names. */
export function samplerOf(settings: Pick<TracingSettings, 'sampler' | 'samplerRatio'>): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** Options of {@link startTracing}. */
export interface TracingOptions {
  /** The service's own name; OTEL_SERVICE_NAME wins over it. */
  serviceName: string;
  /** Where spans go, instead of what OTEL_TRACES_EXPORTER and the OTLP endpoints say. */
  exporter?: SpanExporter;
  /** Extra processors (tests add an in-memory one). */
  processors?: SpanProcessor[];
  /** Environment the settings are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts tracing for this process: W3C trace context propagation, gRPC instrumentation, the
 * sampler and exporters the OTEL_* variables name ({@link tracingSettings}). Must run before
 * @grpc/grpc-js is first loaded, so services import lib/telemetry/preload.ts first, which calls
 * it only when the settings say tracing is enabled. Calling it again is a no-op.
 */
export function startTracing(options: TracingOptions): NodeTracerProvider {
  if (provider) return provider;
  const settings = tracingSettings(options.env ?? process.env, options.serviceName);
  const exporters: SpanExporter[] = options.exporter
    ? [options.exporter]
    : settings.exporters.map((name) =>
        name === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter(settings.otlpUrl ? { url: settings.otlpUrl } : {}),
      );
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
    sampler: samplerOf(settings),
    spanProcessors: [...exporters.map((exporter) => new BatchSpanProcessor(exporter)), ...(options.processors ?? [])],
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
