/**
 * The bed gateway tests run on: the prediction bed (a test network with the real feature service,
 * registry and prediction service with a model in Production) and the real gateway in front of
 * them in the same network, with a keys file holding a key per role and a tightly limited one, and
 * an HS256 secret for JWTs. Everything is removed again by stop().
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashKey, newKey } from '../services/gateway/api-keys.js';
import { startPredictionBed, type PredictionBed, type PredictionBedOptions } from './prediction-bed.js';
import type { RunningOf, ServiceName } from './services/index.js';

/** HS256 secret the bed's gateway accepts JWTs signed with. */
export const JWT_SECRET = 'gateway-test-bed-secret-of-at-least-32-chars';

/** A key per role, and `tight`: a viewer key allowed 2 requests at once, refilled at 1/s, with 1 stream. */
export type BedKeys = Record<'viewer' | 'operator' | 'admin' | 'tight', string>;

/** What a gateway test talks to. */
export interface GatewayBed extends AsyncDisposable {
  readonly mesh: PredictionBed;
  readonly gateway: RunningOf<'gateway'>;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly keys: BedKeys;
  /** The folder served at `/` (absent until a test writes it). */
  readonly webDir: string;
  /** Rewrites the keys file with `revoked: true` on the named keys. */
  revoke(...ids: Array<keyof BedKeys>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the bed; `env` adds gateway settings; `extra` names more services started before the gateway (ingestion, training, monitoring). */
export async function startGatewayBed(options: {
  symbols: readonly string[];
  env?: Record<string, string>;
  extra?: Omit<NonNullable<PredictionBedOptions['extra']>, 'gateway'>;
}): Promise<GatewayBed> {
  const dir = await mkdtemp(join(tmpdir(), 'nepse-gateway-'));
  const keysFile = join(dir, 'keys.yaml');
  const gatewayEnv = { GATEWAY_API_KEYS_FILE: keysFile, GATEWAY_JWT_SECRET: JWT_SECRET, GATEWAY_WEB_DIR: join(dir, 'web'), ...options.env };
  const mesh = await startPredictionBed({ symbols: options.symbols, extra: { ...options.extra, gateway: { env: gatewayEnv } } }).catch(
    async (error: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw error;
    },
  );
  try {
    const keys: BedKeys = { viewer: newKey('viewer'), operator: newKey('operator'), admin: newKey('admin'), tight: newKey('tight') };
    const roles = { viewer: 'viewer', operator: 'operator', admin: 'admin', tight: 'viewer' } as const;
    const write = (revoked: ReadonlySet<string>) =>
      writeFile(
        keysFile,
        JSON.stringify({
          keys: Object.entries(keys).map(([id, key]) => ({
            id,
            principal: `${id}-team`,
            role: roles[id as keyof BedKeys],
            sha256: hashKey(key),
            revoked: revoked.has(id),
            ...(id === 'tight' ? { ratePerSecond: 1, burst: 2, maxStreams: 1 } : {}),
          })),
        }),
      );
    await write(new Set());
    await Promise.all(Object.keys(options.extra ?? {}).map((name) => mesh.network.service(name as ServiceName).start()));
    const service = mesh.network.service('gateway');
    await service.start();
    const gateway = service.running!;
    const stop = async () => {
      await mesh.stop();
      await rm(dir, { recursive: true, force: true });
    };
    return {
      mesh,
      gateway,
      url: `http://127.0.0.1:${gateway.port}`,
      keys,
      webDir: join(dir, 'web'),
      revoke: (...ids) => write(new Set(ids)),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await mesh.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
