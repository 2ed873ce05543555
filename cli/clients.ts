/**
 * Where the CLI finds each service, and its clients of them. A client is created the first time a
 * command uses it, so `nepse predict` never dials the ingestion service.
 */
import { IngestionService } from '../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../gen/nepse/training/v1/training_pb.js';
import { addressVariable as meshAddressVariable, DEFAULT_PORTS } from '../lib/config/index.js';
import { MAX_PAGE_SIZE } from '../lib/market/index.js';
import { createGrpcClient, type ServiceClient } from '../lib/grpc/index.js';

const SERVICES = {
  ingestion: IngestionService,
  training: TrainingService,
  registry: RegistryService,
  prediction: PredictionService,
  monitoring: MonitoringService,
} as const;

/** A service the CLI talks to. */
export type CliService = keyof typeof SERVICES;

/**
 * Time allowed for a unary or client-streaming call, in milliseconds. Importing a large export is
 * one client stream, hence the long one; everything else answers in well under a second.
 */
const TIMEOUT_MS: Record<CliService, number> = {
  ingestion: 600_000,
  training: 30_000,
  registry: 30_000,
  prediction: 30_000,
  monitoring: 30_000,
};

/** The environment variable naming a service's address, e.g. `NEPSE_PREDICTION_ADDR`: the services' own name for it. */
export function addressVariable(service: CliService): string {
  return meshAddressVariable(service);
}

/**
 * A service's `host:port`: the gateway's when `NEPSE_GATEWAY` is set (every public RPC answers
 * there under its own name), else its `NEPSE_<SERVICE>_ADDR`, else the local default port of `make dev`.
 */
export function serviceAddress(service: CliService, env: NodeJS.ProcessEnv = process.env): string {
  return env.NEPSE_GATEWAY || env[addressVariable(service)] || `127.0.0.1:${DEFAULT_PORTS[service]}`;
}

/** The variable that named where a service was dialled (for the hint when it does not answer). */
export function addressSource(service: CliService, env: NodeJS.ProcessEnv = process.env): string {
  return env.NEPSE_GATEWAY ? 'NEPSE_GATEWAY' : addressVariable(service);
}

/** Credentials sent with every call: `NEPSE_API_KEY` (an API key or a JWT), which the gateway asks for. */
export function credentials(env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  return env.NEPSE_API_KEY ? { authorization: `Bearer ${env.NEPSE_API_KEY.trim()}` } : undefined;
}

/** Clients of the mesh's services, each created on first use. */
export type Clients = { readonly [K in CliService]: ServiceClient<(typeof SERVICES)[K]> } & {
  /** The services dialled so far with their addresses (for the hint when one does not answer). */
  dialled(): Array<{ service: CliService; address: string }>;
  /** Closes every client created. */
  close(): void;
};

/** Lazily created clients, addressed from `env`. */
export function createClients(env: NodeJS.ProcessEnv = process.env): Clients {
  const created = new Map<CliService, { address: string; client: { close(): void } }>();
  const clients = {
    dialled: () => [...created].map(([service, { address }]) => ({ service, address })),
    close: () => {
      for (const { client } of created.values()) client.close();
    },
  };
  for (const service of Object.keys(SERVICES) as CliService[]) {
    Object.defineProperty(clients, service, {
      get() {
        let entry = created.get(service);
        if (!entry) {
          const address = serviceAddress(service, env);
          entry = {
            address,
            client: createGrpcClient(SERVICES[service], address, { defaultTimeoutMs: TIMEOUT_MS[service], metadata: credentials(env) }),
          };
          created.set(service, entry);
        }
        return entry.client;
      },
    });
  }
  return clients as Clients;
}

/**
 * The items of a paged list, in order, up to `limit`: pages of at most the largest size a service
 * hands out ({@link MAX_PAGE_SIZE}), and never more than the limit still needs.
 * @param fetch asks for one page of `pageSize` items after `pageToken` ('' for the first).
 */
export async function collectPages<P extends { nextPageToken: string }, T>(
  fetch: (pageSize: number, pageToken: string) => Promise<P>,
  itemsOf: (page: P) => readonly T[],
  limit = Number.POSITIVE_INFINITY,
): Promise<T[]> {
  const items: T[] = [];
  let token = '';
  do {
    const page = await fetch(Math.min(limit - items.length, MAX_PAGE_SIZE), token);
    items.push(...itemsOf(page));
    token = page.nextPageToken;
  } while (token && items.length < limit);
  return items;
}
