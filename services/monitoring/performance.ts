/**
 * Live figures of a model over a window of target days: what GetModelPerformance reports, what
 * the model rules check and what the model gauges show. The window ends at the latest target day
 * with a scored prediction (so a replay of historical data has figures too) and covers
 * `windowDays` calendar days up to it.
 */
import { psi } from './psi.js';
import type { FeatureDistribution } from '../../gen/nepse/registry/v1/registry_pb.js';
import type { Aggregate, MonitoringStore, Scope } from './store.js';

/** The latest day ClickHouse's Date holds: an open upper bound. */
const LAST_DAY = '2149-06-06';

/** ISO day `n` calendar days after `day` (negative: before). */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** The live figures of a scope. */
export interface LiveFigures {
  /** Target days covered; undefined when nothing of the scope was predicted. */
  window: { from: string; to: string } | undefined;
  model: Aggregate;
  noChange: Aggregate;
  /** Predictions with feature days in the window or later that wait for their actual bar. */
  pending: number;
}

/** One feature's drift. */
export interface Drift {
  feature: string;
  psi: number;
  samples: number;
}

const EMPTY: Aggregate = { count: 0, maeReturn: 0, rmseReturn: 0, maeClose: 0, rmseClose: 0, mapeClose: 0, directionalAccuracy: 0 };

/**
 * The window of a scope: ending at its latest scored target day or, before anything is scored,
 * at its latest feature day (so pending predictions and drift are still reported).
 */
export async function windowOf(
  store: MonitoringStore,
  scope: Scope,
  windowDays: number,
): Promise<{ from: string; to: string } | undefined> {
  const end = (await store.lastScoredDay(scope)) ?? (await store.lastFeatureDay(scope));
  return end ? { from: addDays(end, -(windowDays - 1)), to: end } : undefined;
}

/** Live figures of the model and NO_CHANGE over the scope's window. */
export async function liveFigures(store: MonitoringStore, scope: Scope, windowDays: number): Promise<LiveFigures> {
  const window = await windowOf(store, scope, windowDays);
  if (!window) return { window, model: EMPTY, noChange: EMPTY, pending: 0 };
  const [figures, pending] = await Promise.all([store.aggregate(scope, window.from, window.to), store.pendingCount(scope, window.from)]);
  return { window, ...figures, pending };
}

/**
 * PSI of each feature of the live vectors with feature days from the window's start on, against
 * the version's training distributions (vector element i ↔ distribution i, both in feature set
 * order). Features without a usable distribution or without values are left out.
 */
export async function featureDrift(
  store: MonitoringStore,
  scope: Scope,
  window: { from: string } | undefined,
  distributions: readonly FeatureDistribution[],
): Promise<Drift[]> {
  if (!window || distributions.length === 0) return [];
  const vectors = await store.vectors(scope, window.from, LAST_DAY);
  if (vectors.length === 0) return [];
  const drifts: Drift[] = [];
  distributions.forEach((distribution, i) => {
    const values: number[] = [];
    for (const vector of vectors) if (vector.length === distributions.length) values.push(vector[i]);
    const result = psi(values, distribution);
    if (result) drifts.push({ feature: distribution.feature, psi: result.psi, samples: result.samples });
  });
  return drifts;
}
