/**
 * Every service that exists, each as its own process on a private nats-server, scraped the way
 * Prometheus scrapes it: each /metrics parses as the text format, carries the process metrics and
 * the gRPC server metrics after one RPC, and every metric name the alert rules and the Grafana
 * dashboard in ops/ use is served by some service, so none of them queries a name that does not exist.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { DEFAULT_PORTS, METRICS_PORT_OFFSET, type ServiceName } from '../../lib/config/index.js';
import { startNatsServer, type NatsTestServer } from '../../lib/events/testing.js';
import { createGrpcClient } from '../../lib/grpc/index.js';
import { ROOT, startServiceProcess, type ServiceProcess } from '../../lib/runtime/service-process.js';
import { familyNameOf, parseExposition, type Exposition } from '../../lib/telemetry/exposition.js';
import { metricNamesOf } from './promql-names.js';

/** Series Prometheus makes itself for every target; no service serves them. */
const SCRAPE_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

/** One RPC per service, so its grpc_server_* series exist. Any status will do: it is counted either way. */
const ONE_CALL: Partial<Record<ServiceName, (address: string) => Promise<unknown>>> = {
  ingestion: (address) => call(IngestionService, address, (c) => c.listSymbols({})),
  feature: (address) => call(FeatureService, address, (c) => c.listFeatureSets({})),
  training: (address) => call(TrainingService, address, (c) => c.listJobs({})),
  registry: (address) => call(RegistryService, address, (c) => c.listModels({})),
  prediction: (address) => call(PredictionService, address, (c) => c.predict({ symbol: 'NABIL' })),
  monitoring: (address) => call(MonitoringService, address, (c) => c.listAlerts({})),
};

/** Makes one call on a fresh client; a failed status counts as a call made. */
async function call<S extends Parameters<typeof createGrpcClient>[0]>(
  service: S,
  address: string,
  run: (client: ReturnType<typeof createGrpcClient<S>>) => Promise<unknown>,
) {
  const client = createGrpcClient(service, address, { defaultTimeoutMs: 10_000 });
  try {
    return await run(client).catch((error: unknown) => error);
  } finally {
    client.close();
  }
}

describe('metrics of every service, scraped', { timeout: 150_000 }, () => {
  let nats: NatsTestServer;
  let dataDir: string;
  const running = new Map<string, ServiceProcess>();
  const scrapes = new Map<string, Exposition>();

  before(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), 'nepse-scrape-'));
    const env = { NATS_URL: nats.url, DATA_DIR: dataDir };
    const start = async (name: ServiceName, extra: Record<string, string> = {}) => {
      running.set(name, await startServiceProcess(name, { env: { ...env, ...extra }, readyTimeoutMs: 60_000 }));
    };
    const addr = (name: ServiceName) => `127.0.0.1:${running.get(name)!.port}`;
    // Two at a time: the machine may have two cores, and the embedded engines are heavy to start.
    await Promise.all([start('ingestion'), start('feature')]);
    await start('registry', { NEPSE_FEATURE_ADDR: addr('feature') });
    const dependent = { NEPSE_FEATURE_ADDR: addr('feature'), NEPSE_REGISTRY_ADDR: addr('registry') };
    await Promise.all([start('training', dependent), start('prediction', dependent)]);
    await start('monitoring', { ...dependent, NEPSE_PREDICTION_ADDR: addr('prediction') });

    for (const [name, service] of running) {
      await ONE_CALL[name as ServiceName]?.(`127.0.0.1:${service.port}`);
      const response = await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(response.status, 200, `${name} /metrics`);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const body = await response.text();
      try {
        scrapes.set(name, parseExposition(body));
      } catch (error) {
        assert.fail(`${name} /metrics does not parse: ${(error as Error).message}`);
      }
    }
  });

  after(async () => {
    await Promise.all([...running.values()].map((s) => s.stop()));
    await nats?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('scrapes every service that exists', () => {
    const expected = ['ingestion', 'feature', 'registry', 'training', 'prediction', 'monitoring'];
    assert.deepEqual([...scrapes.keys()].sort(), expected.sort());
  });

  it('serves process metrics and grpc_server_* of the RPC just made on every service', () => {
    for (const [name, scraped] of scrapes) {
      for (const family of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        assert.ok(scraped.families.get(family)?.samples.length, `${name}: ${family}`);
      }
      const handled = scraped.families.get('grpc_server_handled_total');
      assert.equal(handled?.type, 'counter', `${name}: grpc_server_handled_total`);
      const ours = handled.samples.filter(
        (s) => s.labels.grpc_service === `nepse.${name}.v1.${name[0].toUpperCase()}${name.slice(1)}Service`,
      );
      assert.ok(
        ours.length >= 1 && ours.every((s) => s.value >= 1 && s.labels.grpc_code && s.labels.grpc_method),
        `${name}: ${JSON.stringify(handled.samples)}`,
      );
      const seconds = scraped.families.get('grpc_server_handling_seconds');
      assert.equal(seconds?.type, 'histogram', `${name}: grpc_server_handling_seconds`);
      // Seconds, not milliseconds: one local call on an idle service ends well under 10 s.
      const sum = seconds.samples.find(
        (s) => s.name === 'grpc_server_handling_seconds_sum' && s.labels.grpc_method === ours[0].labels.grpc_method,
      );
      assert.ok(sum && sum.value > 0 && sum.value < 10, `${name}: handling seconds ${sum?.value}`);
    }
  });

  it('reports the lag of each durable consumer a service runs, and the prediction metrics', () => {
    const durables = (name: string) =>
      scrapes
        .get(name)
        ?.families.get('nepse_events_consumer_pending')
        ?.samples.map((s) => s.labels.durable) ?? [];
    assert.ok(durables('feature').length >= 1, 'feature consumes bars.ingested');
    assert.ok(durables('registry').length >= 1, 'registry consumes models.activation');
    assert.ok(durables('prediction').length >= 2, `prediction consumes features.computed and models.promoted: ${durables('prediction')}`);
    for (const name of ['feature', 'registry', 'prediction']) {
      const scraped = scrapes.get(name)!;
      for (const sample of scraped.families.get('nepse_events_consumer_pending')!.samples) {
        assert.equal(sample.labels.stream, 'NEPSE_EVENTS');
        assert.ok(sample.value >= 0);
      }
      assert.ok(scraped.families.get('nepse_events_consumer_ack_pending')?.samples.length, `${name}: ack pending`);
    }
    const prediction = scrapes.get('prediction')!;
    for (const family of ['nepse_prediction_inference_seconds', 'nepse_prediction_inference_rows'])
      assert.equal(prediction.families.get(family)?.type, 'histogram', family);
    assert.equal(prediction.families.get('nepse_prediction_model_info')?.type, 'gauge');
  });

  it('serves every metric name the alert rules and the dashboard use', async () => {
    const alerts = parseYaml(await readFile(join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8')) as {
      groups: Array<{ name: string; rules: Array<Record<string, unknown>> }>;
    };
    const dashboard = JSON.parse(await readFile(join(ROOT, 'ops/grafana/nepse-mesh.json'), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; definition?: string }> };
    };
    const used = new Map<string, string>(); // name → where it is used
    for (const group of alerts.groups) {
      for (const rule of group.rules) {
        assert.equal(typeof rule.alert, 'string');
        assert.ok(typeof rule.for === 'string' && /^\d+[smh]$/.test(rule.for), `${rule.alert}: for`);
        assert.ok((rule.labels as { severity?: string })?.severity, `${rule.alert}: severity`);
        for (const name of metricNamesOf(String(rule.expr))) used.set(name, `alert ${rule.alert}`);
      }
    }
    for (const panel of dashboard.panels)
      for (const target of panel.targets ?? []) for (const name of metricNamesOf(target.expr)) used.set(name, `panel ${panel.title}`);
    for (const variable of dashboard.templating.list)
      for (const name of metricNamesOf(variable.definition ?? '')) used.set(name, `variable ${variable.name}`);
    assert.ok(used.size >= 25, `names found: ${[...used.keys()]}`);

    const served = new Set<string>();
    for (const scraped of scrapes.values()) for (const family of scraped.families.keys()) served.add(family);
    const missing = [...used]
      .filter(([name]) => {
        const family = familyNameOf(name);
        return !(served.has(family) || served.has(name) || SCRAPE_SERIES.includes(name));
      })
      .map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(missing, [], 'metric names no service serves');
  });

  it('points the scrape config at every metrics port', async () => {
    const config = parseYaml(await readFile(join(ROOT, 'ops/prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[]; labels: { service: string } }> }>;
    };
    assert.deepEqual(config.rule_files, ['alerts.yml']);
    const job = config.scrape_configs.find((c) => c.job_name === 'nepse-mesh')!;
    const targets = Object.fromEntries(job.static_configs.map((c) => [c.labels.service, c.targets[0]]));
    const expected = Object.fromEntries(
      Object.entries(DEFAULT_PORTS).map(([name, port]) => [name, `127.0.0.1:${port + METRICS_PORT_OFFSET}`]),
    );
    assert.deepEqual(targets, expected);
  });
});
