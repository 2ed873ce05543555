/**
 * Champion and challenger side by side: the figures of a served version and of its shadow (the
 * version the prediction service scored in the background, PredictionMade.shadow) over the
 * (symbol, feature day) pairs both have scores for — the same bars, so neither gains from
 * days or symbols the other missed.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ForecastMetricsSchema } from '../../gen/nepse/market/v1/market_pb.js';
import type { ShadowComparisonSchema } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import type { HeadToHeadDay, MonitoringStore, SideSums } from './store.js';

/** The comparison of a version with its shadow, in figures. */
export interface ShadowFigures {
  challengerVersion: number;
  /** Target days with shared pairs, oldest first. */
  days: HeadToHeadDay[];
  /** Mean absolute return error over every shared pair, of each side (log-return units). */
  championMae: number;
  challengerMae: number;
  /** Sessions on which the challenger's mean absolute return error was lower. */
  challengerBetterSessions: number;
}

const add = (a: SideSums, b: SideSums): SideSums => ({
  absReturn: a.absReturn + b.absReturn,
  sqReturn: a.sqReturn + b.sqReturn,
  absClose: a.absClose + b.absClose,
  sqClose: a.sqClose + b.sqClose,
  apeClose: a.apeClose + b.apeClose,
  hits: a.hits + b.hits,
});
const ZERO: SideSums = { absReturn: 0, sqReturn: 0, absClose: 0, sqClose: 0, apeClose: 0, hits: 0 };

/** ForecastMetrics of `count` scores summed in `s`. */
export function metricsOf(s: SideSums, count: number): MessageInitShape<typeof ForecastMetricsSchema> {
  const avg = (x: number) => (count > 0 ? x / count : 0);
  return {
    count: BigInt(count),
    maeReturn: avg(s.absReturn),
    rmseReturn: Math.sqrt(avg(s.sqReturn)),
    maeClose: avg(s.absClose),
    rmseClose: Math.sqrt(avg(s.sqClose)),
    mapeClose: avg(s.apeClose),
    directionalAccuracy: avg(s.hits),
  };
}

/**
 * The version's latest shadow and both sides' scores on the shared pairs with target days in
 * [from, to]; undefined when no shadow of the name was heard.
 */
export async function shadowFigures(
  store: MonitoringStore,
  name: string,
  version: number,
  symbol: string,
  from: string,
  to: string,
): Promise<ShadowFigures | undefined> {
  const challengerVersion = await store.shadowVersion(name, version);
  if (challengerVersion === undefined) return undefined;
  const days = await store.headToHead(name, version, challengerVersion, symbol, from, to);
  const count = days.reduce((n, d) => n + d.count, 0);
  const champion = days.reduce((s, d) => add(s, d.champion), ZERO);
  const challenger = days.reduce((s, d) => add(s, d.challenger), ZERO);
  return {
    challengerVersion,
    days,
    championMae: count > 0 ? champion.absReturn / count : 0,
    challengerMae: count > 0 ? challenger.absReturn / count : 0,
    challengerBetterSessions: days.filter((d) => d.challenger.absReturn < d.champion.absReturn).length,
  };
}

/** The ShadowComparison of a report, from {@link shadowFigures}. */
export function toShadowComparison(f: ShadowFigures): MessageInitShape<typeof ShadowComparisonSchema> {
  const count = f.days.reduce((n, d) => n + d.count, 0);
  return {
    challengerVersion: f.challengerVersion,
    champion: metricsOf(
      f.days.reduce((s, d) => add(s, d.champion), ZERO),
      count,
    ),
    challenger: metricsOf(
      f.days.reduce((s, d) => add(s, d.challenger), ZERO),
      count,
    ),
    sessions: f.days.length,
    challengerBetterSessions: f.challengerBetterSessions,
  };
}
