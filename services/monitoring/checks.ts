/**
 * What each kind of rule checks, as observations per subject. Model rules look at the version of
 * each model being served now (ModelsSeen), over the same windows GetModelPerformance uses.
 * Units of value and threshold: a ratio (live error), a fraction (direction), an index (PSI),
 * hours (stale bars), seconds (latency).
 */
import type { Observation, RuleOutcome } from './alert-book.js';
import type { ModelInfoSource } from './model-info.js';
import type { ModelsSeen } from './models-seen.js';
import { addDays, featureDrift, liveFigures, windowOf } from './performance.js';
import type {
  ChallengerBeatsRule,
  DirectionalAccuracyRule,
  FeatureDriftRule,
  LiveErrorRule,
  PredictionLatencyRule,
  Rule,
  StaleBarsRule,
} from './rules.js';
import type { MonitoringStore } from './store.js';
import { hoursOverdue } from './bar-overdue.js';
import { shadowFigures } from './shadow-comparison.js';

/** What checking needs. */
export interface CheckDeps {
  store: MonitoringStore;
  models: ModelsSeen;
  info: ModelInfoSource;
  /** The clock (epoch ms); injected by tests. */
  now: () => number;
}

const modelKey = (name: string, version: number) => `${name}|${version}`;
const modelLabels = (name: string, version: number) => ({ model_name: name, model_version: String(version) });
const fixed = (x: number, digits = 4) => x.toFixed(digits);

/** Collects observations and the subjects to leave alone. */
class Outcome {
  readonly observations: Observation[] = [];
  private readonly kept: string[] = [];
  constructor(private readonly rule: Rule) {}
  observe(o: Observation): void {
    this.observations.push(o);
  }
  /** Leaves the subject `key` (and, with `prefix`, every subject under it) as it is. */
  keep(key: string, prefix = false): void {
    this.kept.push(prefix ? `${key}|` : key);
  }
  done(): RuleOutcome {
    const kept = this.kept;
    return {
      rule: this.rule,
      observations: this.observations,
      keep: (key) => kept.some((k) => (k.endsWith('|') ? key.startsWith(k) : key === k)),
    };
  }
}

async function liveError(rule: LiveErrorRule, deps: CheckDeps): Promise<RuleOutcome> {
  const out = new Outcome(rule);
  for (const { modelName, modelVersion } of deps.models.servedVersions()) {
    const key = modelKey(modelName, modelVersion);
    const lookup = await deps.info.lookup(modelName, modelVersion);
    if ('unavailable' in lookup) {
      out.keep(key);
      continue;
    }
    const backtestMae = 'found' in lookup ? lookup.found.backtest?.model?.maeReturn : undefined;
    if (!backtestMae || !(backtestMae > 0)) continue; // nothing to compare with: the rule does not apply
    const live = await liveFigures(deps.store, { modelName, modelVersion, symbol: '' }, rule.window_days);
    if (live.model.count < rule.min_count) {
      out.keep(key);
      continue;
    }
    const ratio = live.model.maeReturn / backtestMae;
    out.observe({
      key,
      labels: modelLabels(modelName, modelVersion),
      firing: ratio > rule.k,
      value: ratio,
      threshold: rule.k,
      summary: `${modelName} v${modelVersion}: live MAE ${fixed(live.model.maeReturn, 5)} is ${fixed(ratio, 2)}x the backtest's ${fixed(backtestMae, 5)} over ${rule.window_days} days (${live.model.count} scored; bound ${rule.k}x)`,
    });
  }
  return out.done();
}

async function directionalAccuracy(rule: DirectionalAccuracyRule, deps: CheckDeps): Promise<RuleOutcome> {
  const out = new Outcome(rule);
  for (const { modelName, modelVersion } of deps.models.servedVersions()) {
    const key = modelKey(modelName, modelVersion);
    const live = await liveFigures(deps.store, { modelName, modelVersion, symbol: '' }, rule.window_days);
    if (live.model.count < rule.min_count) {
      out.keep(key);
      continue;
    }
    const accuracy = live.model.directionalAccuracy;
    out.observe({
      key,
      labels: modelLabels(modelName, modelVersion),
      firing: accuracy < rule.min_accuracy,
      value: accuracy,
      threshold: rule.min_accuracy,
      summary: `${modelName} v${modelVersion}: directional accuracy ${fixed(accuracy * 100, 1)} % over ${rule.window_days} days (${live.model.count} scored; floor ${fixed(rule.min_accuracy * 100, 1)} %)`,
    });
  }
  return out.done();
}

async function drift(rule: FeatureDriftRule, deps: CheckDeps): Promise<RuleOutcome> {
  const out = new Outcome(rule);
  for (const { modelName, modelVersion } of deps.models.servedVersions()) {
    const key = modelKey(modelName, modelVersion);
    const lookup = await deps.info.lookup(modelName, modelVersion);
    if ('unavailable' in lookup) {
      out.keep(key, true);
      continue;
    }
    if (!('found' in lookup) || lookup.found.distributions.length === 0) continue;
    const scope = { modelName, modelVersion, symbol: '' };
    const drifts = await featureDrift(deps.store, scope, await windowOf(deps.store, scope, rule.window_days), lookup.found.distributions);
    for (const d of drifts) {
      if (rule.ignore_features.includes(d.feature)) continue;
      const featureKey = `${key}|${d.feature}`;
      if (d.samples < rule.min_samples) {
        out.keep(featureKey);
        continue;
      }
      out.observe({
        key: featureKey,
        labels: { ...modelLabels(modelName, modelVersion), feature: d.feature },
        firing: d.psi > rule.max_psi,
        value: d.psi,
        threshold: rule.max_psi,
        summary: `${modelName} v${modelVersion}: PSI of ${d.feature} is ${fixed(d.psi, 3)} over ${d.samples} live vectors (bound ${rule.max_psi})`,
      });
    }
  }
  return out.done();
}

async function staleBars(rule: StaleBarsRule, deps: CheckDeps): Promise<RuleOutcome> {
  const out = new Outcome(rule);
  const days = await deps.store.lastBarDays();
  if (days.length === 0) return out.done();
  const freshest = days.reduce((max, d) => (d.day > max ? d.day : max), days[0].day);
  const activeFrom = addDays(freshest, -rule.active_within_days);
  const now = deps.now();
  for (const { symbol, day } of days) {
    if (day < activeFrom) continue;
    const overdue = hoursOverdue(day, now, rule.session_close);
    out.observe({
      key: symbol,
      labels: { symbol },
      firing: overdue > rule.slack_hours,
      value: overdue,
      threshold: rule.slack_hours,
      summary: `${symbol}: last bar ${day}; the next session's bar is ${fixed(overdue, 1)} h past its ${rule.session_close} NPT close (slack ${rule.slack_hours} h)`,
    });
  }
  return out.done();
}

async function latency(rule: PredictionLatencyRule, deps: CheckDeps): Promise<RuleOutcome> {
  const out = new Outcome(rule);
  const since = new Date(deps.now() - rule.window_minutes * 60_000);
  for (const { modelName, modelVersion } of deps.models.servedVersions()) {
    const key = modelKey(modelName, modelVersion);
    const { p99, samples } = await deps.store.latencyP99(modelName, modelVersion, since);
    if (samples < rule.min_samples) {
      out.keep(key);
      continue;
    }
    out.observe({
      key,
      labels: modelLabels(modelName, modelVersion),
      firing: p99 > rule.max_p99_ms,
      value: p99 / 1000,
      threshold: rule.max_p99_ms / 1000,
      summary: `${modelName} v${modelVersion}: p99 latency ${fixed(p99, 1)} ms over the last ${rule.window_minutes} min (${samples} predictions; bound ${rule.max_p99_ms} ms)`,
    });
  }
  return out.done();
}

/** A served version whose shadow beat it by more than the margin over the last N shared sessions. */
async function challengerBeats(rule: ChallengerBeatsRule, deps: CheckDeps): Promise<RuleOutcome> {
  const out = new Outcome(rule);
  for (const { modelName, modelVersion } of deps.models.servedVersions()) {
    const key = modelKey(modelName, modelVersion);
    const window = await windowOf(deps.store, { modelName, modelVersion, symbol: '' }, rule.window_days);
    const figures = window && (await shadowFigures(deps.store, modelName, modelVersion, '', window.from, window.to));
    if (!figures) continue; // no shadow: the rule does not apply
    const days = figures.days.slice(-rule.sessions);
    if (days.length < rule.sessions) {
      out.keep(key);
      continue;
    }
    const sum = (side: 'champion' | 'challenger') => days.reduce((s, d) => s + d[side].absReturn, 0);
    const count = days.reduce((n, d) => n + d.count, 0);
    const champion = sum('champion') / count;
    const challenger = sum('challenger') / count;
    const gain = champion > 0 ? (champion - challenger) / champion : 0;
    out.observe({
      key,
      labels: { ...modelLabels(modelName, modelVersion), challenger_version: String(figures.challengerVersion) },
      firing: gain > rule.margin,
      value: gain,
      threshold: rule.margin,
      summary: `${modelName} v${figures.challengerVersion} (challenger) MAE ${fixed(challenger, 5)} vs v${modelVersion} ${fixed(champion, 5)}: ${fixed(100 * gain, 1)} % lower over the last ${days.length} sessions (${count} pairs; margin ${fixed(100 * rule.margin, 1)} %)`,
    });
  }
  return out.done();
}

/** Evaluates one rule. */
export function checkRule(rule: Rule, deps: CheckDeps): Promise<RuleOutcome> {
  switch (rule.kind) {
    case 'live_error':
      return liveError(rule, deps);
    case 'directional_accuracy':
      return directionalAccuracy(rule, deps);
    case 'feature_drift':
      return drift(rule, deps);
    case 'stale_bars':
      return staleBars(rule, deps);
    case 'prediction_latency':
      return latency(rule, deps);
    case 'challenger_beats':
      return challengerBeats(rule, deps);
  }
}
