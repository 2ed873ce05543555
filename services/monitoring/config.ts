import { z } from 'zod';
import { addressSchema, commonEnv, DEFAULT_PORTS, port, readConfig, withAddressFallbacks } from '../../lib/config/index.js';

const schema = z.object({
  ...commonEnv,
  MONITORING_PORT: port().default(DEFAULT_PORTS.monitoring),
  /** Metrics/health port; default gRPC port + 1000. */
  MONITORING_METRICS_PORT: port().optional(),
  /** Where the registry answers (GetModel: backtest figures and training distributions). */
  NEPSE_REGISTRY_ADDR: addressSchema('registry'),
  /** Time allowed for one registry lookup, retries included, in milliseconds; after it reports go out without backtest figures. */
  MONITORING_REGISTRY_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(2_000),
  /** YAML file of alert rules (see rules.ts); unset: the built-in defaults. */
  MONITORING_RULES_FILE: z.string().optional(),
  /** How often every rule is evaluated, in milliseconds (new data also triggers an evaluation). */
  MONITORING_EVALUATE_INTERVAL_MS: z.coerce.number().int().min(50).max(3_600_000).default(60_000),
  /** Quiet time after new data before the evaluation it triggers, in milliseconds: a burst of events causes one. */
  MONITORING_EVALUATE_DEBOUNCE_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  /** Where alert changes are POSTed as JSON; overrides `webhook_url` of the rules file. Unset: no webhook. */
  MONITORING_WEBHOOK_URL: z.string().url().optional(),
  /** Time a webhook POST may take, in milliseconds; a slower one is abandoned, logged and counted. */
  MONITORING_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(2_000),
  /** Keep-alive interval of WatchAlerts streams, in milliseconds (market.proto: at least every 15 s). */
  MONITORING_HEARTBEAT_MS: z.coerce.number().int().min(10).max(15_000).default(10_000),
  /** Batches of PredictionsMade (up to 1,000 events each, one INSERT per table) handled at once. */
  MONITORING_CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
});

/** The monitoring service's configuration. */
export type MonitoringConfig = z.infer<typeof schema>;

/** Reads the monitoring service's configuration from the environment. */
export function monitoringConfig(env: NodeJS.ProcessEnv = process.env): MonitoringConfig {
  return readConfig(schema, withAddressFallbacks(env, ['registry']));
}
