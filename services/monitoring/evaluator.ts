/**
 * Runs the rules: every interval, and shortly after new data (a burst of events causes one run).
 * Runs never overlap. Each run first scores whatever became scorable and was missed, asks the
 * registry which version of each model is in Production (the one the rules judge), then checks
 * every rule, applies the outcomes to the alert book, announces the changes, and refreshes the
 * model gauges.
 */
import { Gauge } from 'prom-client';
import { metric, type Logger } from '../../lib/telemetry/index.js';
import type { AlertBook } from './alert-book.js';
import { checkRule, type CheckDeps } from './checks.js';
import { featureDrift, liveFigures } from './performance.js';
import type { Rule } from './rules.js';
import type { Scorer } from './scorer.js';

/** Window of the model gauges, in days: GetModelPerformance's default. */
export const GAUGE_WINDOW_DAYS = 30;

function modelGauges() {
  const gauge = (name: string, help: string, labelNames: string[]) => metric(name, () => new Gauge({ name, help, labelNames }));
  return {
    liveMae: gauge(
      'nepse_model_live_mae',
      `Live MAE of the predicted log return over the last ${GAUGE_WINDOW_DAYS} days of scored predictions.`,
      ['model', 'version'],
    ),
    baselineMae: gauge('nepse_model_baseline_mae', `MAE of the NO_CHANGE baseline on the same (symbol, day) pairs, log-return units.`, [
      'model',
      'version',
    ]),
    direction: gauge(
      'nepse_model_directional_accuracy',
      `Fraction of live predictions with the sign of the realised return, last ${GAUGE_WINDOW_DAYS} days.`,
      ['model', 'version'],
    ),
    psi: gauge(
      'nepse_model_feature_psi',
      `Population stability index of each feature's live values against the training distribution, last ${GAUGE_WINDOW_DAYS} days.`,
      ['model', 'version', 'feature'],
    ),
  };
}

/** Dependencies of {@link Evaluator}. */
export interface EvaluatorDeps extends CheckDeps {
  rules: readonly Rule[];
  scorer: Scorer;
  book: AlertBook;
  logger: Logger;
  intervalMs: number;
  debounceMs: number;
}

/** The rule loop. */
export class Evaluator {
  private readonly gauges = modelGauges();
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Completed runs (tests wait on it). */
  runs = 0;

  constructor(private readonly deps: EvaluatorDeps) {}

  /** Starts the periodic runs, with a first one now. */
  start(): void {
    this.timer = setInterval(() => void this.evaluate(), this.deps.intervalMs);
    this.timer.unref();
    void this.evaluate();
  }

  /** New data arrived: evaluate once things are quiet for the debounce time. */
  poke(): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.evaluate(), this.deps.debounceMs);
    this.debounce.unref();
  }

  /** Runs an evaluation (or queues one after the run in progress); resolves when it is done. */
  evaluate(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.runOnce().catch((error: Error) => this.deps.logger.error({ err: error.message }, 'evaluation failed'));
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the loop and waits for the run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.running;
  }

  private async runOnce(): Promise<void> {
    const scored = await this.deps.scorer.scoreUnscored();
    if (scored) this.deps.logger.debug({ scored }, 'scored predictions missed by the event path');
    const { models, info } = this.deps;
    await Promise.all(models.names().map(async (name) => models.setProduction(name, await info.productionVersion(name))));
    const now = new Date(this.deps.now());
    for (const rule of this.deps.rules) {
      try {
        await this.deps.book.apply(await checkRule(rule, this.deps), now);
      } catch (error) {
        this.deps.logger.error({ rule: rule.name, err: (error as Error).message }, 'rule evaluation failed; its alerts stay as they are');
      }
    }
    await this.deps.book.announce();
    await this.updateGauges();
    this.runs++;
  }

  private async updateGauges(): Promise<void> {
    const values: {
      labels: Record<string, string>;
      count: number;
      live: number;
      baseline: number;
      direction: number;
      psi: { feature: string; value: number }[];
    }[] = [];
    for (const { modelName, modelVersion } of this.deps.models.servedVersions()) {
      const scope = { modelName, modelVersion, symbol: '' };
      const live = await liveFigures(this.deps.store, scope, GAUGE_WINDOW_DAYS);
      const lookup = await this.deps.info.lookup(modelName, modelVersion);
      const drifts = 'found' in lookup ? await featureDrift(this.deps.store, scope, live.window, lookup.found.distributions) : [];
      if (live.model.count === 0 && drifts.length === 0) continue;
      values.push({
        labels: { model: modelName, version: String(modelVersion) },
        count: live.model.count,
        live: live.model.maeReturn,
        baseline: live.noChange.maeReturn,
        direction: live.model.directionalAccuracy,
        psi: drifts.map((d) => ({ feature: d.feature, value: d.psi })),
      });
    }
    // Reset and set in one synchronous step, so a scrape never sees the gauges half-filled and a
    // version no longer served drops out.
    const g = this.gauges;
    for (const gauge of Object.values(g)) gauge.reset();
    for (const v of values) {
      if (v.count > 0) {
        g.liveMae.set(v.labels, v.live);
        g.baselineMae.set(v.labels, v.baseline);
        g.direction.set(v.labels, v.direction);
      }
      for (const p of v.psi) g.psi.set({ ...v.labels, feature: p.feature }, p.value);
    }
  }
}
