import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTracing, stopTracing, tracingSettings, TracingSettingError } from './tracing.js';

describe('tracingSettings: the standard OpenTelemetry variables', () => {
  it('traces nothing and exports nowhere with no variable set', () => {
    assert.deepEqual(tracingSettings({}, 'feature'), {
      enabled: false,
      serviceName: 'feature',
      exporters: [],
      otlpUrl: undefined,
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    assert.equal(tracingSettings({ OTEL_TRACES_ENABLED: 'true' }, 'feature').enabled, true, 'trace ids in logs without export');
  });

  it('exports over OTLP to the traces endpoint as given, else to the base endpoint + /v1/traces', () => {
    const base = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'x');
    assert.deepEqual([base.enabled, base.exporters, base.otlpUrl], [true, ['otlp'], 'http://collector:4318/v1/traces']);
    const both = tracingSettings(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/custom' },
      'x',
    );
    assert.deepEqual([both.exporters, both.otlpUrl], [['otlp'], 'http://jaeger:4318/custom']);
  });

  it('follows OTEL_TRACES_EXPORTER: console without an endpoint, none despite one, a list', () => {
    assert.deepEqual(tracingSettings({ OTEL_TRACES_EXPORTER: 'console' }, 'x').exporters, ['console']);
    const none = tracingSettings({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, 'x');
    assert.deepEqual([none.enabled, none.exporters], [false, []]);
    assert.deepEqual(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp, Console' }, 'x').exporters, ['otlp', 'console']);
  });

  it('is off altogether with OTEL_SDK_DISABLED=true, whatever else is set', () => {
    const settings = tracingSettings(
      {
        OTEL_SDK_DISABLED: 'TRUE',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_TRACES_ENABLED: 'true',
      },
      'x',
    );
    assert.equal(settings.enabled, false);
    assert.equal(tracingSettings({ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'console' }, 'x').enabled, true);
  });

  it('takes OTEL_SERVICE_NAME over the service folder and reads the sampler and its ratio', () => {
    const settings = tracingSettings(
      { OTEL_SERVICE_NAME: 'nepse-feature-eu', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' },
      'feature',
    );
    assert.deepEqual(
      [settings.serviceName, settings.sampler, settings.samplerRatio],
      ['nepse-feature-eu', 'parentbased_traceidratio', 0.25],
    );
  });

  it('refuses values outside the specification, naming the variable', () => {
    const refused = (env: NodeJS.ProcessEnv, variable: string) =>
      assert.throws(
        () => tracingSettings(env, 'x'),
        (e: unknown) => e instanceof TracingSettingError && e.variable === variable && e.message.startsWith(`${variable}: `),
      );
    refused({ OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER');
    refused({ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER');
    refused({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG');
    refused({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'half' }, 'OTEL_TRACES_SAMPLER_ARG');
  });
});

describe('startTracing with the sampler the variables name', () => {
  afterEach(() => stopTracing());

  const spansWith = (env: NodeJS.ProcessEnv) => {
    const memory = new InMemorySpanExporter();
    startTracing({ serviceName: 'sampled', env, processors: [new SimpleSpanProcessor(memory)] });
    for (let i = 0; i < 200; i++) trace.getTracer('test').startSpan(`span-${i}`).end();
    return memory.getFinishedSpans();
  };

  it('records every span by default and under always_on, none under always_off or a ratio of 0, some under 0.5', async () => {
    const all = spansWith({});
    assert.equal(all.length, 200);
    assert.equal(all[0]!.resource.attributes['service.name'], 'sampled');
    await stopTracing();
    assert.equal(spansWith({ OTEL_TRACES_SAMPLER: 'always_off' }).length, 0);
    await stopTracing();
    assert.equal(spansWith({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }).length, 0);
    await stopTracing();
    const half = spansWith({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5', OTEL_SERVICE_NAME: 'renamed' }).length;
    assert.ok(half > 40 && half < 160, `${half} of 200 sampled at 0.5`);
  });
});
