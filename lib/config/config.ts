import { z } from 'zod';

/** A configuration value failed validation; the message lists every offending variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/**
 * Reads and validates configuration once, at start-up. Keys of the schema are environment
 * variable names; defaults make a bare local run work with no configuration at all.
 */
export function readConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  return result.data;
}

/** A TCP port number from an environment string. */
export const port = () => z.coerce.number().int().min(0).max(65_535);

/** Environment every service reads. */
export const commonEnv = {
  /** NATS servers, comma separated. Local default: the nats-server `make dev` starts. */
  NATS_URL: z.string().default('nats://127.0.0.1:4223'),
  /** ClickHouse server URL; when unset the embedded engine (chdb) is used. */
  CLICKHOUSE_URL: z.string().url().optional(),
  CLICKHOUSE_USER: z.string().optional(),
  CLICKHOUSE_PASSWORD: z.string().optional(),
  /** Folder for embedded data (chdb, PGlite), one subfolder per service. */
  DATA_DIR: z.string().default('.data'),
  /** Address the gRPC and metrics servers bind to. */
  BIND_HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** `app`: retries and breakers in-process; `mesh`: Istio does them. */
  RESILIENCE_MODE: z.enum(['app', 'mesh']).default('app'),
  /** Replicas of JetStream streams: 1 on one local server, 3 in a cluster. */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
};
