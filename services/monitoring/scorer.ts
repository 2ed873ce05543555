import { Counter } from 'prom-client';
import { metric } from '../../lib/telemetry/index.js';
import { scorePrediction } from './scoring.js';
import { scoreKey, type MonitoringStore, type ScoreCandidate, type ScoreInputs } from './store.js';

const sameInputs = (a: ScoreInputs, b: ScoreCandidate) =>
  a.targetDate === b.targetDate &&
  a.actualClose === b.actualClose &&
  a.predictedReturn === b.predictedReturn &&
  a.predictedClose === b.predictedClose &&
  a.baseClose === b.baseClose;

/** `nepse_monitoring_predictions_scored_total{model}`: predictions scored for the first time. */
export function scoredCounter(): Counter<'model'> {
  return metric(
    'nepse_monitoring_predictions_scored_total',
    () =>
      new Counter({
        name: 'nepse_monitoring_predictions_scored_total',
        help: 'Predictions scored against the actual bar of their target session (each once), by model name.',
        labelNames: ['model'],
      }),
  );
}

/**
 * Scores predictions once their target bar is known, whichever of the two arrives first. A score
 * is written only when it is new or its inputs changed (a corrected bar, a re-served prediction),
 * so redelivered events and re-imported bars rewrite nothing and count nothing twice.
 */
export class Scorer {
  private readonly scored = scoredCounter();
  /** Scoring runs one at a time: two overlapping runs would both take the same key for new and count it twice. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: MonitoringStore) {}

  /** Scores predictions of `symbols` with feature days from `from` on; returns how many were scored for the first time. */
  async scoreSymbols(symbols: readonly string[], from: string): Promise<number> {
    if (symbols.length === 0) return 0;
    return this.serially(async () => this.write(await this.store.scoreCandidates({ symbols, from })));
  }

  /** Scores every prediction that has a target bar but no score (the safety net run with each evaluation). */
  async scoreUnscored(): Promise<number> {
    return this.serially(async () => this.write(await this.store.scoreCandidates({ unscoredOnly: true })));
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => {});
    return run;
  }

  private async write(candidates: readonly ScoreCandidate[]): Promise<number> {
    if (candidates.length === 0) return 0;
    const existing = await this.store.scoredInputs(candidates);
    const changed = candidates.filter((c) => {
      const before = existing.get(scoreKey(c.modelName, c.modelVersion, c.symbol, c.featureDate));
      return !before || !sameInputs(before, c);
    });
    if (changed.length === 0) return 0;
    await this.store.insertScores(
      changed.map((candidate) => ({ candidate, score: scorePrediction(candidate, candidate.actualClose) })),
      new Date(),
    );
    const fresh = new Map<string, number>();
    for (const c of changed) {
      if (existing.has(scoreKey(c.modelName, c.modelVersion, c.symbol, c.featureDate))) continue;
      fresh.set(c.modelName, (fresh.get(c.modelName) ?? 0) + 1);
    }
    let total = 0;
    for (const [model, count] of fresh) {
      this.scored.inc({ model }, count);
      total += count;
    }
    return total;
  }
}
