import { z } from 'zod';
import { addressEnv, addressVariable, commonEnv, DEFAULT_PORTS, port, readConfig, withAddressFallbacks } from '../../lib/config/index.js';

/** The mesh services the gateway calls, each found at `NEPSE_<NAME>_ADDR` (lib/config/addresses.ts). */
export const UPSTREAMS = ['ingestion', 'feature', 'training', 'registry', 'prediction', 'monitoring'] as const;

/** One of {@link UPSTREAMS}. */
export type Upstream = (typeof UPSTREAMS)[number];

const schema = z.object({
  ...commonEnv,
  /** The public port: Connect, gRPC-Web and gRPC over HTTP/1.1 and h2c. */
  GATEWAY_PORT: port().default(DEFAULT_PORTS.gateway),
  /** Metrics/health port; default public port + 1000. */
  GATEWAY_METRICS_PORT: port().optional(),
  ...addressEnv(...UPSTREAMS),
  /** Folder of the built dashboard, served at `/` when it exists. */
  GATEWAY_WEB_DIR: z.string().default('web/dist'),
  /** Origins allowed to call the gateway from a browser page (CORS), comma separated; same-origin pages need none. */
  GATEWAY_CORS_ORIGINS: z.string().default(''),
  /** API keys file (YAML or JSON, see api-keys.ts), read again whenever it changes. */
  GATEWAY_API_KEYS_FILE: z.string().optional(),
  /** API keys inline, same format as the file. */
  GATEWAY_API_KEYS: z.string().optional(),
  /** How often the keys file is checked for changes at most, in milliseconds. */
  GATEWAY_KEYS_RELOAD_MS: z.coerce.number().int().min(0).max(600_000).default(1_000),
  /** Development: generate an operator key (or reuse the one there) and write it to this file. */
  GATEWAY_DEV_KEY_FILE: z.string().optional(),
  /** HS256 secret of accepted JWTs (at least 32 characters). */
  GATEWAY_JWT_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  /** JWKS file (public keys) of accepted JWTs. */
  GATEWAY_JWKS_FILE: z.string().optional(),
  /** Required `iss` of JWTs, when set. */
  GATEWAY_JWT_ISSUER: z.string().optional(),
  /** Required `aud` of JWTs, when set. */
  GATEWAY_JWT_AUDIENCE: z.string().optional(),
  /** Claim of a JWT that names its role (viewer, operator or admin). */
  GATEWAY_JWT_ROLE_CLAIM: z.string().default('role'),
  /** Rate limits by role, JSON overriding the defaults of limits.ts, e.g. `{"viewer":{"ratePerSecond":5}}`. */
  GATEWAY_RATE_LIMITS: z.string().optional(),
  /** Largest file UploadCsv accepts, in bytes. */
  GATEWAY_UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(512 * 1024 * 1024)
    .default(32 * 1024 * 1024),
  /** Time allowed for an upstream call whose caller set no deadline, in milliseconds (streams have none). */
  GATEWAY_DEFAULT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** Time allowed for each health check and metrics scrape of GetMeshStatus, in milliseconds. */
  GATEWAY_STATUS_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  /** Code revision reported as part of the gateway's version. */
  CODE_REVISION: z.string().default('dev'),
});

/** The gateway's configuration. */
export type GatewayConfig = z.infer<typeof schema>;

/** Reads the gateway's configuration from the environment. */
export function gatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return readConfig(schema, withAddressFallbacks(env, UPSTREAMS));
}

/** Where an upstream service answers, from its `NEPSE_<NAME>_ADDR`. */
export function upstreamAddress(config: GatewayConfig, name: Upstream): string {
  return config[addressVariable(name)];
}
