/**
 * The dashboard's clients of the gateway: one Connect transport on the page's own origin, typed
 * clients generated from the contracts in gen/, and the API key the gateway asks for, kept in
 * localStorage and sent as `authorization: Bearer <key>` on every call, streams included.
 */
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { GatewayService } from '../../gen/nepse/gateway/v1/gateway_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';

/** localStorage entry holding the API key. */
export const KEY_STORAGE = 'nepse.apiKey';

/** The API key saved in this browser, if any. */
export function storedKey(): string | undefined {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? undefined;
  } catch {
    return undefined; // storage disabled: the key lives only as long as the page
  }
}

/** Saves the API key (an empty one removes it). */
export function saveKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled
  }
}

/** Every client the dashboard uses, all through the gateway. */
export interface Api {
  gateway: Client<typeof GatewayService>;
  ingestion: Client<typeof IngestionService>;
  prediction: Client<typeof PredictionService>;
  registry: Client<typeof RegistryService>;
  monitoring: Client<typeof MonitoringService>;
}

/**
 * Clients of the gateway at `baseUrl` (default: the origin that served the page). `key()` is read
 * on every call, so a key entered later applies to the next call without new clients.
 */
export function createApi(key: () => string | undefined, baseUrl = location.origin): Api {
  const withKey: Interceptor = (next) => (request) => {
    const value = key();
    if (value) request.header.set('authorization', `Bearer ${value}`);
    return next(request);
  };
  const transport = createConnectTransport({ baseUrl, interceptors: [withKey] });
  return {
    gateway: createClient(GatewayService, transport),
    ingestion: createClient(IngestionService, transport),
    prediction: createClient(PredictionService, transport),
    registry: createClient(RegistryService, transport),
    monitoring: createClient(MonitoringService, transport),
  };
}

/** Whether an error means the gateway wants (other) credentials. */
export function needsKey(error: unknown): boolean {
  return error instanceof ConnectError && error.code === Code.Unauthenticated;
}

/** A short, readable line for an error of a call. */
export function describeError(error: unknown): string {
  if (error instanceof ConnectError) return `${Code[error.code] ?? error.code}: ${error.rawMessage}`;
  return error instanceof Error ? error.message : String(error);
}
