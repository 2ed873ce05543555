/**
 * The one mesh the bad-input suite throws its cases at: every service (ingestion as its own process,
 * since it takes the binary and endless files), a model in Production and a second version of it
 * archived, the gateway in front with an admin key. Cases call the services directly and through
 * the gateway; after each one the suite checks every service still answers health and that nothing
 * was stored, by comparing {@link snapshot}s.
 */
import { GatewayService } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService, Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { createGrpcClient, grpc, statusDetails, type GrpcJs, type ServiceClient } from '../../lib/grpc/index.js';
import type { Refused } from './wire.js';
import {
  linearModel,
  registerRequests,
  registrationFor,
  startGatewayBed,
  WIDTH,
  type GatewayBed,
  type ServiceName,
} from '../../testing/index.js';

/** Symbols the bed's feature service and model know. */
export const BED_SYMBOLS = ['NABIL', 'UPPER'] as const;

/** Clients of every service, direct and through the gateway (admin key). */
export interface Clients {
  ingestion: ServiceClient<typeof IngestionService>;
  feature: ServiceClient<typeof FeatureService>;
  training: ServiceClient<typeof TrainingService>;
  registry: ServiceClient<typeof RegistryService>;
  prediction: ServiceClient<typeof PredictionService>;
  monitoring: ServiceClient<typeof MonitoringService>;
  gateway: ServiceClient<typeof GatewayService>;
}

/** What a case gets. */
export interface BadInputBed {
  readonly direct: Clients;
  /** The same services' public RPCs through the gateway, with the admin key. */
  readonly viaGateway: Omit<Clients, 'gateway'> & { gateway: ServiceClient<typeof GatewayService> };
  /** `127.0.0.1:<port>` of each service (the gateway's gRPC port too). */
  readonly address: Record<ServiceName, string>;
  /** Metadata carrying the admin key, for raw calls through the gateway. */
  readonly auth: Record<string, string>;
  /** The Production model and its archived second version. */
  readonly model: { name: string; production: number; archived: number };
  readonly gatewayBed: GatewayBed;
}

const SERVICES = [
  'ingestion',
  'feature',
  'training',
  'registry',
  'prediction',
  'monitoring',
  'gateway',
] as const satisfies readonly ServiceName[];

function clientsAt(address: (name: ServiceName) => string, metadata?: Record<string, string>): Clients {
  const options = { metadata, defaultTimeoutMs: 20_000 };
  return {
    ingestion: createGrpcClient(IngestionService, address('ingestion'), options),
    feature: createGrpcClient(FeatureService, address('feature'), options),
    training: createGrpcClient(TrainingService, address('training'), options),
    registry: createGrpcClient(RegistryService, address('registry'), options),
    prediction: createGrpcClient(PredictionService, address('prediction'), options),
    monitoring: createGrpcClient(MonitoringService, address('monitoring'), options),
    gateway: createGrpcClient(GatewayService, address('gateway'), options),
  };
}

/** Boots the bed; stop it with `close()`. */
export async function startBadInputBed(): Promise<BadInputBed & { close(): Promise<void> }> {
  const gatewayBed = await startGatewayBed({
    symbols: BED_SYMBOLS,
    extra: { ingestion: { process: true }, training: {}, monitoring: {} },
  });
  try {
    const network = gatewayBed.mesh.network;
    const address = Object.fromEntries(SERVICES.map((name) => [name, network.address(name)])) as Record<ServiceName, string>;
    const auth = { authorization: `Bearer ${gatewayBed.keys.admin}` };
    const direct = clientsAt((name) => address[name]);
    const viaGateway = clientsAt(() => address.gateway, auth);
    const { name, version } = gatewayBed.mesh.model;
    const second = await direct.registry.registerModel(
      registerRequests(registrationFor(name, WIDTH), linearModel({ width: WIDTH, weights: new Array(WIDTH).fill(0), bias: 0.001 })),
    );
    const archived = second.modelVersion!.version;
    await direct.registry.transitionStage({ name, version: archived, targetStage: Stage.ARCHIVED, actor: 'test', reason: 'bad-input bed' });
    const close = async () => {
      for (const set of [direct, viaGateway]) for (const client of Object.values(set)) client.close();
      await gatewayBed.stop();
    };
    return { direct, viaGateway, address, auth, model: { name, production: version, archived }, gatewayBed, close };
  } catch (error) {
    await gatewayBed.stop();
    throw error;
  }
}

/** Names of the services whose /healthz does not answer 200 (a crashed or wedged process). */
export async function unhealthy(bed: BadInputBed): Promise<string[]> {
  const down: string[] = [];
  for (const name of SERVICES) {
    const port = bed.gatewayBed.mesh.network.service(name).metricsPort;
    const ok =
      port !== undefined &&
      (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.ok,
        () => false,
      ));
    if (!ok) down.push(name);
  }
  return down;
}

/**
 * What a caller can read of the mesh's stored state: symbols with their bar counts and last days,
 * model versions with their stages, training jobs and feature sets. Equal snapshots: nothing was
 * stored. (Alerts are left out: rules on the clock may fire on their own.)
 */
export async function snapshot(bed: BadInputBed): Promise<string> {
  const { ingestion, registry, training, feature } = bed.direct;
  const symbols = (await ingestion.listSymbols({ pageSize: 1000 })).symbols.map(
    (s) => `${s.symbol}:${s.barCount}:${s.lastDate?.year}-${s.lastDate?.month}-${s.lastDate?.day}`,
  );
  const models = (await registry.listModels({ pageSize: 1000 })).modelVersions.map((m) => `${m.name}/${m.version}:${Stage[m.stage]}`);
  const jobs = (await training.listJobs({ pageSize: 1000 })).jobs.map((j) => j.jobId);
  const featureSets = (await feature.listFeatureSets({ pageSize: 1000 })).featureSets.map((f) => `${f.ref?.name}/${f.ref?.version}`);
  return JSON.stringify({ symbols, models, jobs, featureSets });
}

/** The outcome of a call as a case states it: its status code, and the field (or precondition, or resource) named in its details. */
export interface Outcome {
  code: GrpcJs.status;
  field?: string;
  message: string;
}

/** Runs a call to its end and reads what came back. */
export async function outcomeOf(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    const answer = await call();
    if (answer && typeof answer === 'object' && 'refusedField' in answer) {
      const { accepted, refusedField } = answer as Refused;
      return { code: grpc.status.OK, field: refusedField, message: `OK, ${accepted} stored` };
    }
    return { code: grpc.status.OK, message: 'OK' };
  } catch (error) {
    const details = statusDetails(error);
    const code = details?.code ?? (error as { code?: number }).code;
    if (typeof code !== 'number') throw error;
    const field = details?.fieldViolations[0]?.field ?? details?.preconditionViolations[0]?.type ?? details?.resource?.type;
    return { code, field, message: details?.message ?? (error as Error).message };
  }
}

/** Reads a server stream to its end. */
export async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of stream) n++;
  return n;
}
