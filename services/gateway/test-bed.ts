/**
 * The gateway's integration-test bed: the prediction service's bed (a private nats-server, the
 * real feature service, registry and prediction service with a model in Production) and the real
 * gateway in front of them on a free loopback port, with a keys file holding a key per role and a
 * tightly limited one, and an HS256 secret for JWTs. Everything is removed again by stop().
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPredictionBed, type PredictionBed } from '../prediction/test-bed.js';
import { hashKey, newKey } from './api-keys.js';
import { gatewayConfig } from './config.js';
import { startGateway, type RunningGateway } from './service.js';

/** HS256 secret the bed's gateway accepts JWTs signed with. */
export const JWT_SECRET = 'gateway-test-bed-secret-of-at-least-32-chars';

/** A key per role, and `tight`: a viewer key allowed 2 requests at once, refilled at 1/s, with 1 stream. */
export type BedKeys = Record<'viewer' | 'operator' | 'admin' | 'tight', string>;

/** What a gateway test talks to. */
export interface GatewayBed {
  readonly mesh: PredictionBed;
  readonly gateway: RunningGateway;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly keys: BedKeys;
  /** The folder served at `/` (absent until a test writes it). */
  readonly webDir: string;
  /** Rewrites the keys file with `revoked: true` on the named keys. */
  revoke(...ids: Array<keyof BedKeys>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the bed; `env` adds gateway settings. */
export async function startGatewayBed(options: { symbols: readonly string[]; env?: Record<string, string> }): Promise<GatewayBed> {
  const mesh = await startPredictionBed({ symbols: options.symbols });
  const dir = await mkdtemp(join(tmpdir(), 'nepse-gateway-'));
  try {
    const keys: BedKeys = { viewer: newKey('viewer'), operator: newKey('operator'), admin: newKey('admin'), tight: newKey('tight') };
    const roles = { viewer: 'viewer', operator: 'operator', admin: 'admin', tight: 'viewer' } as const;
    const keysFile = join(dir, 'keys.yaml');
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
    const gateway = await startGateway(
      gatewayConfig({
        GATEWAY_PORT: '0',
        GATEWAY_METRICS_PORT: '0',
        BIND_HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        FEATURE_ADDR: `127.0.0.1:${mesh.featurePort}`,
        REGISTRY_ADDR: `127.0.0.1:${mesh.registryPort}`,
        PREDICTION_ADDR: `127.0.0.1:${mesh.prediction.port}`,
        GATEWAY_API_KEYS_FILE: keysFile,
        GATEWAY_KEYS_RELOAD_MS: '0',
        GATEWAY_JWT_SECRET: JWT_SECRET,
        GATEWAY_WEB_DIR: join(dir, 'web'),
        ...options.env,
      }),
    );
    return {
      mesh,
      gateway,
      url: `http://127.0.0.1:${gateway.port}`,
      keys,
      webDir: join(dir, 'web'),
      revoke: (...ids) => write(new Set(ids)),
      async stop() {
        await gateway.stop(1_000);
        await mesh.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await mesh.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
