/**
 * Test helpers for monitoring: a monitoring service on a private nats-server and data folder, and
 * publishers of the two events it consumes, as the prediction and ingestion services send them.
 * Not loaded by the service.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { BarsIngestedSchema, PredictionsMadeSchema, type PredictionMadeSchema } from '../../gen/nepse/events/v1/events_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { MeshEvents } from '../../lib/events/catalog.js';
import { connectEvents, ensureStreams, NO_KEY, type EventBus } from '../../lib/events/index.js';
import { startNatsServer, type NatsTestServer } from '../../lib/events/testing.js';
import { createGrpcClient, statusDetails, type ServiceClient } from '../../lib/grpc/index.js';
import { toProtoDate } from '../../lib/market/index.js';
import { monitoringConfig } from './config.js';
import { startMonitoring, type MonitoringOptions, type RunningMonitoring } from './service.js';

/** One prediction to publish; the rest of PredictionMade is filled in. */
export interface TestPrediction {
  model: string;
  version: number;
  symbol: string;
  featureDate: string;
  baseClose: number;
  predictedReturn: number;
  /** Default baseClose · exp(predictedReturn), as the prediction service computes it. */
  predictedClose?: number;
  latencyMs?: number;
  features?: number[];
}

/** A monitoring service with its nats-server, data folder, client and a publishing bus. */
export interface MonitoringBed {
  readonly nats: NatsTestServer;
  readonly dataDir: string;
  readonly bus: EventBus;
  client: ServiceClient<typeof MonitoringService>;
  monitoring: RunningMonitoring;
  /** Publishes one PredictionsMade event; the msgId is unique unless given. */
  predict(predictions: readonly TestPrediction[], msgId?: string): Promise<void>;
  /** Publishes one BarsIngested event of one symbol. */
  bars(symbol: string, bars: readonly { date: string; close: number }[], msgId?: string): Promise<void>;
  /** Stops and starts the service again on the same store and nats-server. */
  restart(options?: MonitoringOptions): Promise<void>;
  stop(): Promise<void>;
}

/** Starts nats-server, a data folder and the monitoring service with `env` added to the test defaults. */
export async function startMonitoringBed(env: Record<string, string> = {}, options: MonitoringOptions = {}): Promise<MonitoringBed> {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'nepse-monitoring-'));
  const config = monitoringConfig({
    NATS_URL: nats.url, DATA_DIR: dataDir, BIND_HOST: '127.0.0.1', LOG_LEVEL: 'silent', MONITORING_PORT: '0', MONITORING_METRICS_PORT: '0',
    // Nothing listens on port 1: the registry is down unless a test says otherwise.
    REGISTRY_ADDR: '127.0.0.1:1', MONITORING_EVALUATE_INTERVAL_MS: '600000', MONITORING_EVALUATE_DEBOUNCE_MS: '50', MONITORING_HEARTBEAT_MS: '200',
    ...env,
  });
  const bus = await connectEvents({ servers: nats.url, name: 'monitoring-test' });
  await ensureStreams(bus);
  let monitoring = await startMonitoring(config, options);
  const bed: MonitoringBed = {
    nats,
    dataDir,
    bus,
    client: createGrpcClient(MonitoringService, `127.0.0.1:${monitoring.port}`),
    monitoring,
    async predict(predictions, msgId) {
      const event = create(PredictionsMadeSchema, { predictions: predictions.map(predictionMade) });
      await bus.publish(MeshEvents.predictionsMade, NO_KEY, event, { msgId: msgId ?? `predictions.made:${randomUUID()}` });
    },
    async bars(symbol, bars, msgId) {
      const sorted = [...bars].sort((a, b) => a.date.localeCompare(b.date));
      const event = create(BarsIngestedSchema, {
        symbol, firstDate: toProtoDate(sorted[0].date), lastDate: toProtoDate(sorted.at(-1)!.date), barsNew: BigInt(sorted.length), part: 1, partCount: 1,
        batchId: randomUUID(), source: 'test', occurredAt: timestampFromMs(Date.now()),
        bars: sorted.map((b) => ({ symbol, date: toProtoDate(b.date), open: b.close, high: b.close, low: b.close, close: b.close, volume: 1000 })),
      });
      await bus.publish(MeshEvents.barsIngested, symbol, event, { msgId: msgId ?? `bars.ingested:${symbol}:${randomUUID()}` });
    },
    async restart(restartOptions = options) {
      bed.client.close();
      await monitoring.stop();
      monitoring = bed.monitoring = await startMonitoring(config, restartOptions);
      bed.client = createGrpcClient(MonitoringService, `127.0.0.1:${monitoring.port}`);
    },
    async stop() {
      bed.client.close();
      await bus.close();
      await monitoring.stop();
      await nats.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return bed;
}

function predictionMade(p: TestPrediction): MessageInitShape<typeof PredictionMadeSchema> {
  return {
    predictionId: randomUUID(), modelName: p.model, modelVersion: p.version, symbol: p.symbol, featureDate: toProtoDate(p.featureDate),
    predictedReturn: p.predictedReturn, predictedClose: p.predictedClose ?? p.baseClose * Math.exp(p.predictedReturn), baseClose: p.baseClose,
    latencyMs: p.latencyMs ?? 1, instanceId: 'test', occurredAt: timestampFromMs(Date.now()), features: p.features ?? [],
  };
}

/** The status code and the first violated field (or resource type) of a failed call. */
export async function failure(call: Promise<unknown>): Promise<{ code: number | undefined; field: string | undefined }> {
  try {
    await call;
  } catch (error) {
    const details = statusDetails(error);
    return { code: details?.code ?? (error as { code?: number }).code, field: details?.fieldViolations[0]?.field ?? details?.resource?.type };
  }
  return { code: undefined, field: 'no error' };
}

/** A metric's value from a Prometheus text exposition, 0 when absent. */
export async function metricValue(metricsPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
