/**
 * Alert rules: what is checked, against which threshold, how seriously. Read once at start from
 * the YAML file named by MONITORING_RULES_FILE, or the built-in defaults when unset. A `rules` list
 * in the file replaces the defaults as a whole, so what runs is exactly what the file says.
 *
 * ```yaml
 * webhook_url: https://hooks.example/nepse   # optional; MONITORING_WEBHOOK_URL wins
 * rules:
 *   - name: direction_floor
 *     kind: directional_accuracy
 *     severity: warning
 *     min_accuracy: 0.45
 *     window_days: 20
 *     min_count: 30
 * ```
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../lib/config/index.js';
import { AlertKind, AlertSeverity } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { DRIFT_DEFAULTS } from '../../lib/market/index.js';

const name = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lower_snake_case, at most 63 characters');
const severity = z.enum(['info', 'warning', 'critical']);
const windowDays = z.number().int().min(1).max(3650);
const minCount = z.number().int().min(1);
const base = { name, severity };

const liveError = z.strictObject({
  ...base,
  kind: z.literal('live_error'),
  /** Fires when live MAE of the return exceeds k × the backtest's overall MAE. */
  k: z.number().positive().default(1.5),
  window_days: windowDays.default(20),
  /** Scored predictions needed in the window before the rule says anything. */
  min_count: minCount.default(20),
});

const directionalAccuracy = z.strictObject({
  ...base,
  kind: z.literal('directional_accuracy'),
  /** Fires when the fraction of right-signed predictions falls below this. */
  min_accuracy: z.number().min(0).max(1).default(0.45),
  window_days: windowDays.default(20),
  min_count: minCount.default(30),
});

const featureDrift = z.strictObject({
  ...base,
  kind: z.literal('feature_drift'),
  /** Fires for each feature whose population stability index exceeds this. */
  max_psi: z.number().positive().default(DRIFT_DEFAULTS.maxPsi),
  window_days: windowDays.default(DRIFT_DEFAULTS.windowDays),
  /** Live vectors needed before a PSI is trusted (see DRIFT_DEFAULTS.minSamples for why 500). */
  min_samples: minCount.default(DRIFT_DEFAULTS.minSamples),
  /** Features left out; by default the calendar ones (see DRIFT_DEFAULTS.ignoredFeatures). */
  ignore_features: z.array(z.string()).default([...DRIFT_DEFAULTS.ignoredFeatures]),
});

const staleBars = z.strictObject({
  ...base,
  kind: z.literal('stale_bars'),
  /** End of a NEPSE session, HH:MM Nepal time: a session's bar is expected from then on. */
  session_close: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM')
    .default('15:00'),
  /** Hours after the session's close a missing bar is tolerated. */
  slack_hours: z.number().min(0).max(240).default(2),
  /**
   * Symbols whose last bar is this many days behind the freshest symbol's count as suspended or
   * delisted and are not alerted on; a market-wide outage keeps every symbol in scope.
   */
  active_within_days: z.number().int().min(1).max(3650).default(10),
});

const predictionLatency = z.strictObject({
  ...base,
  kind: z.literal('prediction_latency'),
  /** Fires when the p99 of served latency (PredictionMade.latency_ms) exceeds this, in ms. */
  max_p99_ms: z.number().positive().default(250),
  /** How far back latency samples count, in minutes. */
  window_minutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(15),
  min_samples: minCount.default(100),
});

const challengerBeats = z.strictObject({
  ...base,
  kind: z.literal('challenger_beats'),
  /**
   * Fires when the shadow (challenger) of a served version has a mean absolute return error lower
   * than the served version's by more than this fraction of it (0.1: 10 % lower), on the same bars.
   */
  margin: z.number().min(0).max(1).default(0.1),
  /** The last this many sessions with pairs both scored are compared; fewer and the rule waits. */
  sessions: z.number().int().min(1).max(3650).default(5),
  /** Calendar days looked back for those sessions. */
  window_days: windowDays.default(30),
});

const rule = z.discriminatedUnion('kind', [liveError, directionalAccuracy, featureDrift, staleBars, predictionLatency, challengerBeats]);

const file = z.strictObject({
  webhook_url: z.string().url().optional(),
  rules: z.array(rule).optional(),
});

/** One configured rule, parameters filled with their defaults. */
export type Rule = z.infer<typeof rule>;
export type LiveErrorRule = z.infer<typeof liveError>;
export type DirectionalAccuracyRule = z.infer<typeof directionalAccuracy>;
export type FeatureDriftRule = z.infer<typeof featureDrift>;
export type StaleBarsRule = z.infer<typeof staleBars>;
export type PredictionLatencyRule = z.infer<typeof predictionLatency>;
export type ChallengerBeatsRule = z.infer<typeof challengerBeats>;

/** The rules and the webhook a rules file configures. */
export interface RuleSet {
  rules: Rule[];
  webhookUrl?: string;
}

/** The default drift rule: what readers of PSI figures (the demo, the CLI) measure theirs against. */
export const DEFAULT_DRIFT_RULE: FeatureDriftRule = featureDrift.parse({
  name: 'feature_drift',
  kind: 'feature_drift',
  severity: 'warning',
});

/** The rules that run when no file is given (the thresholds of the issue that asked for them). */
export const DEFAULT_RULES: readonly Rule[] = [
  liveError.parse({ name: 'live_error_ratio', kind: 'live_error', severity: 'warning' }),
  directionalAccuracy.parse({ name: 'direction_floor', kind: 'directional_accuracy', severity: 'warning' }),
  DEFAULT_DRIFT_RULE,
  staleBars.parse({ name: 'stale_bars', kind: 'stale_bars', severity: 'critical' }),
  predictionLatency.parse({ name: 'prediction_latency', kind: 'prediction_latency', severity: 'warning' }),
];

/** The proto kind of a rule. */
export const KIND_OF: Record<Rule['kind'], AlertKind> = {
  live_error: AlertKind.LIVE_ERROR,
  directional_accuracy: AlertKind.DIRECTIONAL_ACCURACY,
  feature_drift: AlertKind.FEATURE_DRIFT,
  stale_bars: AlertKind.STALE_BARS,
  prediction_latency: AlertKind.PREDICTION_LATENCY,
  challenger_beats: AlertKind.CHALLENGER_BEATS,
};

/** The proto severity of a rule. */
export const SEVERITY_OF: Record<Rule['severity'], AlertSeverity> = {
  info: AlertSeverity.INFO,
  warning: AlertSeverity.WARNING,
  critical: AlertSeverity.CRITICAL,
};

/**
 * Validates the parsed content of a rules file.
 * @throws ConfigError naming each offending key (`rules.1.k: …`), and duplicate rule names.
 */
export function parseRules(content: unknown, source = 'rules'): RuleSet {
  const result = file.safeParse(content ?? {});
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const rules = result.data.rules ?? [...DEFAULT_RULES];
  const seen = new Set<string>();
  const problems: string[] = [];
  rules.forEach((r, i) => {
    if (seen.has(r.name)) problems.push(`${source}: rules.${i}.name: rule name ${JSON.stringify(r.name)} is used twice`);
    seen.add(r.name);
  });
  if (problems.length) throw new ConfigError(problems);
  return { rules, webhookUrl: result.data.webhook_url };
}

/** The rules of the YAML file at `path`, or the defaults when there is none. @throws ConfigError */
export async function loadRules(path: string | undefined): Promise<RuleSet> {
  if (!path) return { rules: [...DEFAULT_RULES] };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`MONITORING_RULES_FILE: cannot read ${path}: ${(error as Error).message}`]);
  }
  let content: unknown;
  try {
    content = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`MONITORING_RULES_FILE: ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  return parseRules(content, path);
}
