/**
 * The bed monitoring tests run on: a test network holding the monitoring service (and, when asked,
 * services it reads, such as the registry), and publishers of the two events it consumes, as the
 * prediction and ingestion services send them.
 */
import { randomUUID } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { BarsIngestedSchema, PredictionsMadeSchema, type PredictionMadeSchema } from '../gen/nepse/events/v1/events_pb.js';
import type { MonitoringService } from '../gen/nepse/monitoring/v1/monitoring_pb.js';
import { MeshEvents } from '../lib/events/catalog.js';
import { NO_KEY, type EventBus } from '../lib/events/index.js';
import type { NatsTestServer } from '../lib/events/testing.js';
import { createGrpcClient, type ServiceClient } from '../lib/grpc/index.js';
import { toProtoDate } from '../lib/market/index.js';
import { TestNetwork } from './network.js';
import type { MonitoringOptions, RunningOf, ServiceName } from './services/index.js';

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
  /** A shadow (challenger) prediction, PredictionMade.shadow. */
  shadow?: boolean;
}

/** A monitoring service on a test network, with a client and a publishing bus. */
export interface MonitoringBed extends AsyncDisposable {
  readonly network: TestNetwork;
  readonly nats: NatsTestServer;
  readonly dataDir: string;
  readonly bus: EventBus;
  client: ServiceClient<typeof MonitoringService>;
  monitoring: RunningOf<'monitoring'>;
  /** Publishes one PredictionsMade event; the msgId is unique unless given. */
  predict(predictions: readonly TestPrediction[], msgId?: string): Promise<void>;
  /** Publishes one BarsIngested event of one symbol. */
  bars(symbol: string, bars: readonly { date: string; close: number }[], msgId?: string): Promise<void>;
  /** Stops and starts the service again on the same port, store and nats-server. */
  restart(options?: MonitoringOptions): Promise<void>;
  stop(): Promise<void>;
}

/** More of a monitoring bed: services beside it, and what to do before monitoring starts. */
export interface MonitoringBedExtras {
  /** Services started beside monitoring, before it (say, the registry and the feature service it needs). */
  services?: readonly Exclude<ServiceName, 'monitoring'>[];
  /** Runs once those services serve and before monitoring starts (register and promote a model, …). */
  beforeStart?: (network: TestNetwork) => Promise<void>;
}

/**
 * Starts a test network with monitoring and `env` added to the test defaults. A registry outside
 * `extras.services` is down: its address is one where nothing listens.
 */
export async function startMonitoringBed(
  env: Record<string, string> = {},
  options: MonitoringOptions = {},
  extras: MonitoringBedExtras = {},
): Promise<MonitoringBed> {
  const network = await TestNetwork.create({
    services: ['monitoring', ...(extras.services ?? [])],
    monitoring: { env, options, deferred: true },
  });
  try {
    await extras.beforeStart?.(network);
    const service = network.service('monitoring');
    await service.start();
    const { bus } = network;
    const stop = async () => {
      bed.client.close();
      await network.close();
    };
    const bed: MonitoringBed = {
      network,
      nats: network.nats,
      dataDir: network.dataDir,
      bus,
      // A client of the bed's own, renewed by restart(): tests hold `bed.client`.
      client: createGrpcClient(service.definition, service.address),
      monitoring: service.running!,
      async predict(predictions, msgId) {
        const event = create(PredictionsMadeSchema, { predictions: predictions.map(predictionMade) });
        await bus.publish(MeshEvents.predictionsMade, NO_KEY, event, { msgId: msgId ?? `predictions.made:${randomUUID()}` });
      },
      async bars(symbol, bars, msgId) {
        const sorted = [...bars].sort((a, b) => a.date.localeCompare(b.date));
        const event = create(BarsIngestedSchema, {
          symbol,
          firstDate: toProtoDate(sorted[0].date),
          lastDate: toProtoDate(sorted.at(-1)!.date),
          barsNew: BigInt(sorted.length),
          part: 1,
          partCount: 1,
          batchId: randomUUID(),
          source: 'test',
          occurredAt: timestampFromMs(Date.now()),
          bars: sorted.map((b) => ({
            symbol,
            date: toProtoDate(b.date),
            open: b.close,
            high: b.close,
            low: b.close,
            close: b.close,
            volume: 1000,
          })),
        });
        await bus.publish(MeshEvents.barsIngested, symbol, event, { msgId: msgId ?? `bars.ingested:${symbol}:${randomUUID()}` });
      },
      async restart(restartOptions = options) {
        bed.client.close();
        await service.stop();
        await service.start(restartOptions);
        bed.monitoring = service.running!;
        bed.client = createGrpcClient(service.definition, service.address);
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
    return bed;
  } catch (error) {
    await network.close();
    throw error;
  }
}

function predictionMade(p: TestPrediction): MessageInitShape<typeof PredictionMadeSchema> {
  return {
    predictionId: randomUUID(),
    modelName: p.model,
    modelVersion: p.version,
    symbol: p.symbol,
    featureDate: toProtoDate(p.featureDate),
    predictedReturn: p.predictedReturn,
    predictedClose: p.predictedClose ?? p.baseClose * Math.exp(p.predictedReturn),
    baseClose: p.baseClose,
    latencyMs: p.latencyMs ?? 1,
    instanceId: 'test',
    occurredAt: timestampFromMs(Date.now()),
    features: p.features ?? [],
    shadow: p.shadow ?? false,
  };
}
