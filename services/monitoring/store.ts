import type { Migration, Store } from '../../lib/store/index.js';
import type { Score } from './scoring.js';

/** The monitoring service's own tables: predictions heard, actual bars, scores, latency samples, alerts. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: '001_predictions',
    statements: [
      // One row per (model, version, symbol, feature day): a streaming client asking for the same
      // prediction thousands of times leaves one row. The latest serving wins (a corrected bar
      // recomputes the vector, and the model answers again for the same day).
      `CREATE TABLE IF NOT EXISTS predictions (
        model_name LowCardinality(String),
        model_version UInt32,
        symbol LowCardinality(String),
        feature_date Date,
        prediction_id String,
        predicted_return Float64,
        predicted_close Float64,
        base_close Float64,
        features Array(Float64),
        degraded UInt8,
        instance_id String,
        occurred_at DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree(occurred_at)
      ORDER BY (model_name, model_version, symbol, feature_date)`,
      // Served latencies, one row per event and model version (a redelivered event replaces its row).
      `CREATE TABLE IF NOT EXISTS latency_samples (
        model_name LowCardinality(String),
        model_version UInt32,
        event_id String,
        at DateTime64(3, 'UTC'),
        latencies Array(Float64)
      ) ENGINE = ReplacingMergeTree
      ORDER BY (model_name, model_version, event_id)
      TTL toDateTime(at) + INTERVAL 30 DAY`,
    ],
  },
  {
    id: '002_actuals_scores',
    statements: [
      // Closes from BarsIngested; versioned by when ingestion stored them, so a redelivered old
      // event cannot overwrite a later correction.
      `CREATE TABLE IF NOT EXISTS actuals (
        symbol LowCardinality(String),
        date Date,
        close Float64,
        stored_at DateTime64(6, 'UTC')
      ) ENGINE = ReplacingMergeTree(stored_at)
      ORDER BY (symbol, date)`,
      // One score per prediction key; rescoring (a corrected bar) replaces it, so nothing counts twice.
      `CREATE TABLE IF NOT EXISTS scores (
        model_name LowCardinality(String),
        model_version UInt32,
        symbol LowCardinality(String),
        feature_date Date,
        target_date Date,
        base_close Float64,
        predicted_return Float64,
        predicted_close Float64,
        actual_close Float64,
        actual_return Float64,
        abs_err_return Float64,
        sq_err_return Float64,
        abs_err_close Float64,
        sq_err_close Float64,
        ape_close Float64,
        hit UInt8,
        base_abs_err_return Float64,
        base_sq_err_return Float64,
        base_abs_err_close Float64,
        base_sq_err_close Float64,
        base_ape_close Float64,
        base_hit UInt8,
        scored_at DateTime64(6, 'UTC')
      ) ENGINE = ReplacingMergeTree(scored_at)
      ORDER BY (model_name, model_version, symbol, feature_date)`,
    ],
  },
  {
    id: '003_alerts',
    statements: [
      // Every state of every alert; the highest revision is the current one. `announced` is the
      // outbox flag: 0 until AlertRaised for that state was acknowledged by JetStream.
      `CREATE TABLE IF NOT EXISTS alerts (
        alert_id String,
        alert_key String,
        rule LowCardinality(String),
        kind UInt8,
        severity UInt8,
        state UInt8,
        labels Map(String, String),
        value Float64,
        threshold Float64,
        summary String,
        started_at DateTime64(3, 'UTC'),
        resolved_at Nullable(DateTime64(3, 'UTC')),
        announced UInt8,
        revision UInt64
      ) ENGINE = ReplacingMergeTree(revision)
      ORDER BY alert_id`,
    ],
  },
  {
    // Shadow predictions (PredictionMade.shadow): a challenger's, made beside the served version's.
    id: '004_prediction_shadow',
    statements: [`ALTER TABLE predictions ADD COLUMN IF NOT EXISTS shadow UInt8 DEFAULT 0`],
  },
];

/** A prediction as stored. */
export interface PredictionRow {
  modelName: string;
  modelVersion: number;
  symbol: string;
  featureDate: string;
  predictionId: string;
  predictedReturn: number;
  predictedClose: number;
  baseClose: number;
  features: number[];
  degraded: boolean;
  instanceId: string;
  occurredAt: Date;
  /** Made by a shadow model (the challenger), never served. */
  shadow?: boolean;
}

/** Sums over the scores of one side of a head-to-head, on one target day. */
export interface SideSums {
  absReturn: number;
  sqReturn: number;
  absClose: number;
  sqClose: number;
  apeClose: number;
  hits: number;
}

/** One target day of a champion-challenger comparison: pairs both scored, and each side's sums. */
export interface HeadToHeadDay {
  day: string;
  count: number;
  champion: SideSums;
  challenger: SideSums;
}

/** A prediction paired with the bar of its target day, ready to score. */
export interface ScoreCandidate {
  modelName: string;
  modelVersion: number;
  symbol: string;
  featureDate: string;
  targetDate: string;
  predictedReturn: number;
  predictedClose: number;
  baseClose: number;
  actualClose: number;
}

/** What a stored score was computed from: the same inputs give the same score. */
export type ScoreInputs = Pick<ScoreCandidate, 'targetDate' | 'actualClose' | 'predictedReturn' | 'predictedClose' | 'baseClose'>;

/** Which predictions an aggregate covers. */
export interface Scope {
  modelName: string;
  /** 0: every version. */
  modelVersion: number;
  /** '': every symbol. */
  symbol: string;
}

/** Sums over scored predictions, as ForecastMetrics wants them. */
export interface Aggregate {
  count: number;
  maeReturn: number;
  rmseReturn: number;
  maeClose: number;
  rmseClose: number;
  mapeClose: number;
  directionalAccuracy: number;
}

/** A stored prediction with its score, when it has one. */
export interface ScoredPredictionRow {
  modelName: string;
  modelVersion: number;
  symbol: string;
  featureDate: string;
  predictedReturn: number;
  predictedClose: number;
  baseClose: number;
  degraded: boolean;
  predictedAt: Date;
  /** Undefined until the bar of the target day arrived. */
  score?: {
    targetDate: string;
    actualClose: number;
    actualReturn: number;
    absErrClose: number;
    absErrReturn: number;
    baseAbsErrClose: number;
    baseAbsErrReturn: number;
  };
}

/** Filters of a prediction listing. */
export interface PredictionFilter {
  symbol: string;
  /** '': every model. */
  modelName: string;
  /** 0: every version. */
  modelVersion: number;
  /** Feature days, inclusive. */
  from: string;
  to: string;
  /** Cursor: only predictions after this key in newest-first order. */
  after?: { featureDate: string; modelName: string; modelVersion: number };
  limit: number;
}

/** Sums of the scored predictions of one target day in scope. */
export interface DayErrors {
  day: string;
  count: number;
  /** Sums of absolute errors: of the model's return and close, of NO_CHANGE's return and close. */
  absReturn: number;
  absClose: number;
  baseAbsReturn: number;
  baseAbsClose: number;
}

/** An alert as stored (one revision). */
export interface AlertRow {
  alertId: string;
  key: string;
  rule: string;
  kind: number;
  severity: number;
  state: number;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  summary: string;
  startedAt: Date;
  resolvedAt: Date | undefined;
  announced: boolean;
}

/** Filters of an alert listing. */
export interface AlertFilter {
  state: number;
  minSeverity: number;
  rule: string;
  modelName: string;
  symbol: string;
  /** Cursor: only alerts before (started_at ms, alert_id) in newest-first order. */
  before?: { startedAtMs: number; alertId: string };
  limit: number;
}

const SCOPE_WHERE = `model_name = {model:String} AND ({version:UInt32} = 0 OR model_version = {version:UInt32}) AND ({symbol:String} = '' OR symbol = {symbol:String})`;
/**
 * The served predictions of a scope, on the predictions table: a shadow prediction (a
 * challenger's, PredictionMade.shadow) was never answered, so it is left out of every figure
 * that describes what users were served; it counts only in the champion-challenger comparison.
 */
const SERVED_PREDICTIONS = `${SCOPE_WHERE} AND shadow = 0`;
/** The scores of the served predictions of a scope (see SERVED_PREDICTIONS), on the scores table. */
const SERVED_SCORES = `${SCOPE_WHERE} AND (model_name, model_version, symbol, feature_date) NOT IN
  (SELECT model_name, model_version, symbol, feature_date FROM predictions FINAL WHERE ${SCOPE_WHERE} AND shadow = 1)`;
const scopeParams = (scope: Scope) => ({ model: scope.modelName, version: scope.modelVersion, symbol: scope.symbol });
const ms = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`);
const finite = (expr: string, as: string) => `ifNotFinite(${expr}, 0) AS ${as}`;

let revisionCounter = 0;
/** Increasing revisions for alert rows, also within one millisecond. */
function nextRevision(): number {
  revisionCounter = (revisionCounter + 1) % 1000;
  return Date.now() * 1000 + revisionCounter;
}

/** The monitoring service's SQL, in one place. */
export class MonitoringStore {
  constructor(private readonly store: Store) {}

  /** Writes predictions (one row per key wins on read). */
  async insertPredictions(rows: readonly PredictionRow[]): Promise<void> {
    await this.store.insert(
      'predictions',
      rows.map((p) => ({
        model_name: p.modelName,
        model_version: p.modelVersion,
        symbol: p.symbol,
        feature_date: p.featureDate,
        prediction_id: p.predictionId,
        predicted_return: p.predictedReturn,
        predicted_close: p.predictedClose,
        base_close: p.baseClose,
        features: p.features,
        degraded: p.degraded ? 1 : 0,
        instance_id: p.instanceId,
        occurred_at: p.occurredAt,
        shadow: p.shadow ? 1 : 0,
      })),
    );
  }

  /** Writes one event's latency samples per model version. */
  async insertLatencies(
    rows: readonly { modelName: string; modelVersion: number; eventId: string; at: Date; latencies: number[] }[],
  ): Promise<void> {
    await this.store.insert(
      'latency_samples',
      rows.map((r) => ({ model_name: r.modelName, model_version: r.modelVersion, event_id: r.eventId, at: r.at, latencies: r.latencies })),
    );
  }

  /** Writes closes of one symbol, versioned by when ingestion stored them. */
  async insertActuals(symbol: string, bars: readonly { date: string; close: number }[], storedAt: Date): Promise<void> {
    await this.store.insert(
      'actuals',
      bars.map((b) => ({ symbol, date: b.date, close: b.close, stored_at: storedAt })),
    );
  }

  /** The latest bar day of `symbol` before `day`, or undefined. */
  async barDayBefore(symbol: string, day: string): Promise<string | undefined> {
    const [row] = await this.store.query<{ day: string; n: number }>(
      `SELECT toString(max(date)) AS day, count() AS n FROM actuals FINAL WHERE symbol = {symbol:String} AND date < {day:Date}`,
      { symbol, day },
    );
    return row && row.n > 0 ? row.day : undefined;
  }

  /**
   * Predictions of `symbols` with feature days from `from` on, each with the first bar after its
   * feature day (its target session), when that bar is known. `unscoredOnly` keeps those without a score.
   */
  async scoreCandidates(options: { symbols?: readonly string[]; from?: string; unscoredOnly?: boolean }): Promise<ScoreCandidate[]> {
    const symbolFilter = options.symbols ? 'AND symbol IN {symbols:Array(String)}' : '';
    const unscored = options.unscoredOnly
      ? `AND (model_name, model_version, symbol, feature_date) NOT IN (SELECT model_name, model_version, symbol, feature_date FROM scores FINAL)`
      : '';
    const rows = await this.store.query<{
      model_name: string;
      model_version: number;
      symbol: string;
      feature_day: string;
      target_day: string;
      predicted_return: number;
      predicted_close: number;
      base_close: number;
      actual_close: number;
    }>(
      `SELECT p.model_name AS model_name, p.model_version AS model_version, p.symbol AS symbol, toString(p.feature_date) AS feature_day,
              toString(a.date) AS target_day, p.predicted_return AS predicted_return, p.predicted_close AS predicted_close,
              p.base_close AS base_close, a.close AS actual_close
       FROM (SELECT model_name, model_version, symbol, feature_date, predicted_return, predicted_close, base_close
             FROM predictions FINAL WHERE feature_date >= {from:Date} ${symbolFilter} ${unscored}) AS p
       ASOF INNER JOIN (SELECT symbol, date, close FROM actuals FINAL WHERE date > {from:Date} ${symbolFilter}) AS a
         ON p.symbol = a.symbol AND a.date > p.feature_date`,
      { symbols: options.symbols ?? [], from: options.from ?? '1970-01-01' },
    );
    return rows.map((r) => ({
      modelName: r.model_name,
      modelVersion: r.model_version,
      symbol: r.symbol,
      featureDate: r.feature_day,
      targetDate: r.target_day,
      predictedReturn: r.predicted_return,
      predictedClose: r.predicted_close,
      baseClose: r.base_close,
      actualClose: r.actual_close,
    }));
  }

  /** Existing scores of candidate keys, with what each was computed from. */
  async scoredInputs(candidates: readonly ScoreCandidate[]): Promise<Map<string, ScoreInputs>> {
    if (candidates.length === 0) return new Map();
    const symbols = [...new Set(candidates.map((c) => c.symbol))];
    const from = candidates.reduce((min, c) => (c.featureDate < min ? c.featureDate : min), candidates[0].featureDate);
    const rows = await this.store.query<{
      model_name: string;
      model_version: number;
      symbol: string;
      feature_day: string;
      target_day: string;
      actual_close: number;
      predicted_return: number;
      predicted_close: number;
      base_close: number;
    }>(
      `SELECT model_name, model_version, symbol, toString(feature_date) AS feature_day, toString(target_date) AS target_day,
              actual_close, predicted_return, predicted_close, base_close
       FROM scores FINAL WHERE symbol IN {symbols:Array(String)} AND feature_date >= {from:Date}`,
      { symbols, from },
    );
    return new Map(
      rows.map((r) => [
        scoreKey(r.model_name, r.model_version, r.symbol, r.feature_day),
        {
          targetDate: r.target_day,
          actualClose: r.actual_close,
          predictedReturn: r.predicted_return,
          predictedClose: r.predicted_close,
          baseClose: r.base_close,
        },
      ]),
    );
  }

  /** Writes scores (replacing earlier ones of the same keys). */
  async insertScores(scored: readonly { candidate: ScoreCandidate; score: Score }[], at: Date): Promise<void> {
    await this.store.insert(
      'scores',
      scored.map(({ candidate: c, score: s }) => ({
        model_name: c.modelName,
        model_version: c.modelVersion,
        symbol: c.symbol,
        feature_date: c.featureDate,
        target_date: c.targetDate,
        base_close: c.baseClose,
        predicted_return: c.predictedReturn,
        predicted_close: c.predictedClose,
        actual_close: c.actualClose,
        actual_return: s.actualReturn,
        abs_err_return: s.model.absReturn,
        sq_err_return: s.model.sqReturn,
        abs_err_close: s.model.absClose,
        sq_err_close: s.model.sqClose,
        ape_close: s.model.apeClose,
        hit: s.model.hit,
        base_abs_err_return: s.noChange.absReturn,
        base_sq_err_return: s.noChange.sqReturn,
        base_abs_err_close: s.noChange.absClose,
        base_sq_err_close: s.noChange.sqClose,
        base_ape_close: s.noChange.apeClose,
        base_hit: s.noChange.hit,
        scored_at: at,
      })),
    );
  }

  /** Every (model, version) ever predicted, with its latest prediction instant (epoch ms) and whether it was only ever a shadow. */
  async modelVersions(): Promise<{ modelName: string; modelVersion: number; lastAt: number; shadow: boolean }[]> {
    const rows = await this.store.query<{ model_name: string; model_version: number; last_at: string; shadow: number }>(
      `SELECT model_name, model_version, toString(max(occurred_at)) AS last_at, min(shadow) AS shadow FROM predictions GROUP BY model_name, model_version`,
    );
    return rows.map((r) => ({
      modelName: r.model_name,
      modelVersion: r.model_version,
      lastAt: ms(r.last_at),
      shadow: Number(r.shadow) === 1,
    }));
  }

  /** The latest target day with a scored served prediction in scope, or undefined. */
  async lastScoredDay(scope: Scope): Promise<string | undefined> {
    const [row] = await this.store.query<{ day: string; n: number }>(
      `SELECT toString(max(target_date)) AS day, count() AS n FROM scores FINAL WHERE ${SERVED_SCORES}`,
      scopeParams(scope),
    );
    return row && row.n > 0 ? row.day : undefined;
  }

  /** The latest feature day of a served prediction in scope, or undefined. */
  async lastFeatureDay(scope: Scope): Promise<string | undefined> {
    const [row] = await this.store.query<{ day: string; n: number }>(
      `SELECT toString(max(feature_date)) AS day, count() AS n FROM predictions WHERE ${SERVED_PREDICTIONS}`,
      scopeParams(scope),
    );
    return row && row.n > 0 ? row.day : undefined;
  }

  /** Figures of the model and of NO_CHANGE over the scores of served predictions in scope with target days in [from, to]. */
  async aggregate(scope: Scope, from: string, to: string): Promise<{ model: Aggregate; noChange: Aggregate }> {
    const [row] = await this.store.query<Record<string, number>>(
      `SELECT count() AS n,
              ${finite('avg(abs_err_return)', 'mae_r')}, ${finite('sqrt(avg(sq_err_return))', 'rmse_r')},
              ${finite('avg(abs_err_close)', 'mae_c')}, ${finite('sqrt(avg(sq_err_close))', 'rmse_c')},
              ${finite('avg(ape_close)', 'mape')}, ${finite('avg(hit)', 'da')},
              ${finite('avg(base_abs_err_return)', 'b_mae_r')}, ${finite('sqrt(avg(base_sq_err_return))', 'b_rmse_r')},
              ${finite('avg(base_abs_err_close)', 'b_mae_c')}, ${finite('sqrt(avg(base_sq_err_close))', 'b_rmse_c')},
              ${finite('avg(base_ape_close)', 'b_mape')}, ${finite('avg(base_hit)', 'b_da')}
       FROM scores FINAL WHERE ${SERVED_SCORES} AND target_date BETWEEN {from:Date} AND {to:Date}`,
      { ...scopeParams(scope), from, to },
    );
    const n = row?.n ?? 0;
    return {
      model: {
        count: n,
        maeReturn: row.mae_r,
        rmseReturn: row.rmse_r,
        maeClose: row.mae_c,
        rmseClose: row.rmse_c,
        mapeClose: row.mape,
        directionalAccuracy: row.da,
      },
      noChange: {
        count: n,
        maeReturn: row.b_mae_r,
        rmseReturn: row.b_rmse_r,
        maeClose: row.b_mae_c,
        rmseClose: row.b_rmse_c,
        mapeClose: row.b_mape,
        directionalAccuracy: row.b_da,
      },
    };
  }

  /** The latest version of `name` heard as a shadow, other than `version`; undefined when none. */
  async shadowVersion(name: string, version: number): Promise<number | undefined> {
    const [row] = await this.store.query<{ v: number }>(
      `SELECT model_version AS v FROM predictions WHERE model_name = {model:String} AND shadow = 1 AND model_version != {version:UInt32} ORDER BY occurred_at DESC LIMIT 1`,
      { model: name, version },
    );
    return row?.v;
  }

  /**
   * Per target day in [from, to], the scores of `champion` and `challenger` of one name on the
   * (symbol, feature day) pairs both have: the two scored on the same bars.
   */
  async headToHead(name: string, champion: number, challenger: number, symbol: string, from: string, to: string): Promise<HeadToHeadDay[]> {
    const side = (version: string) =>
      `SELECT symbol, feature_date, target_date, abs_err_return, sq_err_return, abs_err_close, sq_err_close, ape_close, hit FROM scores FINAL
       WHERE model_name = {model:String} AND model_version = {${version}:UInt32} AND ({symbol:String} = '' OR symbol = {symbol:String})
         AND target_date BETWEEN {from:Date} AND {to:Date}`;
    const sums = (t: string) =>
      `sum(${t}.abs_err_return) AS ${t}_ar, sum(${t}.sq_err_return) AS ${t}_sr, sum(${t}.abs_err_close) AS ${t}_ac, sum(${t}.sq_err_close) AS ${t}_sc, sum(${t}.ape_close) AS ${t}_ape, sum(${t}.hit) AS ${t}_hit`;
    const rows = await this.store.query<Record<string, number> & { day: string }>(
      `SELECT toString(c.target_date) AS day, count() AS n, ${sums('c')}, ${sums('s')}
       FROM (${side('champion')}) AS c INNER JOIN (${side('challenger')}) AS s ON c.symbol = s.symbol AND c.feature_date = s.feature_date
       GROUP BY day ORDER BY day`,
      { model: name, champion, challenger, symbol, from, to },
    );
    const of = (r: Record<string, number>, t: string): SideSums => ({
      absReturn: Number(r[`${t}_ar`]),
      sqReturn: Number(r[`${t}_sr`]),
      absClose: Number(r[`${t}_ac`]),
      sqClose: Number(r[`${t}_sc`]),
      apeClose: Number(r[`${t}_ape`]),
      hits: Number(r[`${t}_hit`]),
    });
    return rows.map((r) => ({ day: r.day, count: Number(r.n), champion: of(r, 'c'), challenger: of(r, 's') }));
  }

  /** Served predictions in scope with feature days from `from` on that have no score yet. */
  async pendingCount(scope: Scope, from: string): Promise<number> {
    const [row] = await this.store.query<{ n: number }>(
      `SELECT count() AS n FROM predictions FINAL WHERE ${SERVED_PREDICTIONS} AND feature_date >= {from:Date}
         AND (model_name, model_version, symbol, feature_date) NOT IN (SELECT model_name, model_version, symbol, feature_date FROM scores FINAL WHERE ${SCOPE_WHERE})`,
      { ...scopeParams(scope), from },
    );
    return row?.n ?? 0;
  }

  /** The live feature vectors of served predictions in scope with feature days in [from, to]: one per (symbol, day). */
  async vectors(scope: Scope, from: string, to: string): Promise<number[][]> {
    const rows = await this.store.query<{ features: number[] }>(
      `SELECT argMax(features, occurred_at) AS features FROM predictions FINAL
       WHERE ${SERVED_PREDICTIONS} AND feature_date BETWEEN {from:Date} AND {to:Date} GROUP BY symbol, feature_date`,
      { ...scopeParams(scope), from, to },
    );
    return rows.map((r) => r.features);
  }

  /** The p99 and count of served latencies (ms) of a model since `since`. */
  async latencyP99(modelName: string, modelVersion: number, since: Date): Promise<{ p99: number; samples: number }> {
    const [row] = await this.store.query<{ p99: number; n: number }>(
      `SELECT ${finite('quantileExact(0.99)(l)', 'p99')}, count() AS n FROM latency_samples FINAL ARRAY JOIN latencies AS l
       WHERE model_name = {model:String} AND model_version = {version:UInt32} AND at >= {since:DateTime64(3)}`,
      { model: modelName, version: modelVersion, since },
    );
    return { p99: row?.p99 ?? 0, samples: row?.n ?? 0 };
  }

  /** The last bar day of every symbol. */
  async lastBarDays(): Promise<{ symbol: string; day: string }[]> {
    const rows = await this.store.query<{ symbol: string; day: string }>(
      `SELECT symbol, toString(max(date)) AS day FROM actuals GROUP BY symbol ORDER BY symbol`,
    );
    return rows;
  }

  /**
   * Predictions of one symbol matching `filter`, newest feature day first (then model name and
   * version, descending), each with its score when there is one.
   */
  async listPredictions(filter: PredictionFilter): Promise<ScoredPredictionRow[]> {
    const where = [
      'symbol = {symbol:String}',
      "({model:String} = '' OR model_name = {model:String})",
      '({version:UInt32} = 0 OR model_version = {version:UInt32})',
      'feature_date BETWEEN {from:Date} AND {to:Date}',
    ];
    const params: Record<string, unknown> = {
      symbol: filter.symbol,
      model: filter.modelName,
      version: filter.modelVersion,
      from: filter.from,
      to: filter.to,
    };
    const cursor = filter.after
      ? 'AND (feature_date, model_name, model_version) < ({afterDay:Date}, {afterModel:String}, {afterVersion:UInt32})'
      : '';
    if (filter.after)
      Object.assign(params, {
        afterDay: filter.after.featureDate,
        afterModel: filter.after.modelName,
        afterVersion: filter.after.modelVersion,
      });
    const order = 'ORDER BY feature_date DESC, model_name DESC, model_version DESC';
    // The page is cut from the predictions first, so the join reads only the scores of that page.
    const rows = await this.store.query<{
      model_name: string;
      model_version: number;
      symbol: string;
      feature_day: string;
      predicted_return: number;
      predicted_close: number;
      base_close: number;
      degraded: number;
      at_ms: number;
      scored: number;
      target_day: string;
      actual_close: number;
      actual_return: number;
      abs_err_close: number;
      abs_err_return: number;
      base_abs_err_close: number;
      base_abs_err_return: number;
    }>(
      `SELECT p.model_name AS model_name, p.model_version AS model_version, p.symbol AS symbol, toString(p.feature_date) AS feature_day,
              p.predicted_return AS predicted_return, p.predicted_close AS predicted_close, p.base_close AS base_close, p.degraded AS degraded,
              toUnixTimestamp64Milli(p.occurred_at) AS at_ms, s.scored AS scored, toString(s.target_date) AS target_day, s.actual_close AS actual_close,
              s.actual_return AS actual_return, s.abs_err_close AS abs_err_close, s.abs_err_return AS abs_err_return,
              s.base_abs_err_close AS base_abs_err_close, s.base_abs_err_return AS base_abs_err_return
       FROM (SELECT model_name, model_version, symbol, feature_date, predicted_return, predicted_close, base_close, degraded, occurred_at
             FROM predictions FINAL WHERE ${where.join(' AND ')} ${cursor} ${order} LIMIT ${Math.floor(filter.limit)}) AS p
       LEFT JOIN (SELECT model_name, model_version, symbol, feature_date, 1 AS scored, target_date, actual_close, actual_return,
                         abs_err_close, abs_err_return, base_abs_err_close, base_abs_err_return
                  FROM scores FINAL WHERE ${where.join(' AND ')}) AS s
         ON p.model_name = s.model_name AND p.model_version = s.model_version AND p.symbol = s.symbol AND p.feature_date = s.feature_date
       ORDER BY p.feature_date DESC, p.model_name DESC, p.model_version DESC`,
      params,
    );
    return rows.map((r) => ({
      modelName: r.model_name,
      modelVersion: r.model_version,
      symbol: r.symbol,
      featureDate: r.feature_day,
      predictedReturn: r.predicted_return,
      predictedClose: r.predicted_close,
      baseClose: r.base_close,
      degraded: r.degraded === 1,
      predictedAt: new Date(Number(r.at_ms)),
      // A prediction without a score joins the defaults (0): `scored` tells them apart.
      score:
        r.scored === 1
          ? {
              targetDate: r.target_day,
              actualClose: r.actual_close,
              actualReturn: r.actual_return,
              absErrClose: r.abs_err_close,
              absErrReturn: r.abs_err_return,
              baseAbsErrClose: r.base_abs_err_close,
              baseAbsErrReturn: r.base_abs_err_return,
            }
          : undefined,
    }));
  }

  /** Error sums of the scores of served predictions in scope per target day in [from, to], oldest first. */
  async errorsByDay(scope: Scope, from: string, to: string): Promise<DayErrors[]> {
    const rows = await this.store.query<{ day: string; n: number; ae_r: number; ae_c: number; b_r: number; b_c: number }>(
      `SELECT toString(target_date) AS day, count() AS n, sum(abs_err_return) AS ae_r, sum(abs_err_close) AS ae_c,
              sum(base_abs_err_return) AS b_r, sum(base_abs_err_close) AS b_c
       FROM scores FINAL WHERE ${SERVED_SCORES} AND target_date BETWEEN {from:Date} AND {to:Date}
       GROUP BY target_date ORDER BY target_date`,
      { ...scopeParams(scope), from, to },
    );
    return rows.map((r) => ({
      day: r.day,
      count: Number(r.n),
      absReturn: r.ae_r,
      absClose: r.ae_c,
      baseAbsReturn: r.b_r,
      baseAbsClose: r.b_c,
    }));
  }

  /** Writes a new revision of each alert, in one insert. */
  async saveAlerts(alerts: readonly AlertRow[]): Promise<void> {
    await this.store.insert(
      'alerts',
      alerts.map((alert) => ({
        alert_id: alert.alertId,
        alert_key: alert.key,
        rule: alert.rule,
        kind: alert.kind,
        severity: alert.severity,
        state: alert.state,
        labels: alert.labels,
        value: alert.value,
        threshold: alert.threshold,
        summary: alert.summary,
        started_at: alert.startedAt,
        resolved_at: alert.resolvedAt ?? null,
        announced: alert.announced ? 1 : 0,
        revision: nextRevision(),
      })),
    );
  }

  /** Current revisions of alerts that are firing or not yet announced (what a restart resumes). */
  async openAlerts(firingState: number): Promise<AlertRow[]> {
    return this.alertRows(`WHERE state = {firing:UInt8} OR announced = 0`, { firing: firingState });
  }

  /** Current alerts matching `filter`, newest started first. */
  async listAlerts(filter: AlertFilter): Promise<AlertRow[]> {
    const where = [
      '({state:UInt8} = 0 OR state = {state:UInt8})',
      'severity >= {minSeverity:UInt8}',
      "({rule:String} = '' OR rule = {rule:String})",
      "({model:String} = '' OR labels['model_name'] = {model:String})",
      "({symbol:String} = '' OR labels['symbol'] = {symbol:String})",
    ];
    const params: Record<string, unknown> = {
      state: filter.state,
      minSeverity: filter.minSeverity,
      rule: filter.rule,
      model: filter.modelName,
      symbol: filter.symbol,
    };
    if (filter.before) {
      where.push(
        '(toUnixTimestamp64Milli(started_at) < {beforeMs:Int64} OR (toUnixTimestamp64Milli(started_at) = {beforeMs:Int64} AND alert_id < {beforeId:String}))',
      );
      params.beforeMs = filter.before.startedAtMs;
      params.beforeId = filter.before.alertId;
    }
    return this.alertRows(`WHERE ${where.join(' AND ')} ORDER BY started_at DESC, alert_id DESC LIMIT ${Math.floor(filter.limit)}`, params);
  }

  private async alertRows(tail: string, params: Record<string, unknown>): Promise<AlertRow[]> {
    const rows = await this.store.query<{
      alert_id: string;
      alert_key: string;
      rule: string;
      kind: number;
      severity: number;
      state: number;
      labels: Record<string, string>;
      value: number;
      threshold: number;
      summary: string;
      started_ms: number;
      resolved_ms: number | null;
      announced: number;
    }>(
      `SELECT alert_id, alert_key, rule, kind, severity, state, labels, value, threshold, summary,
              toUnixTimestamp64Milli(started_at) AS started_ms, toUnixTimestamp64Milli(resolved_at) AS resolved_ms, announced
       FROM alerts FINAL ${tail}`,
      params,
    );
    return rows.map((r) => ({
      alertId: r.alert_id,
      key: r.alert_key,
      rule: r.rule,
      kind: r.kind,
      severity: r.severity,
      state: r.state,
      labels: r.labels,
      value: r.value,
      threshold: r.threshold,
      summary: r.summary,
      startedAt: new Date(Number(r.started_ms)),
      resolvedAt: r.resolved_ms === null ? undefined : new Date(Number(r.resolved_ms)),
      announced: r.announced === 1,
    }));
  }
}

/** The identity of a prediction (and of its score). */
export function scoreKey(modelName: string, modelVersion: number, symbol: string, featureDate: string): string {
  return `${modelName}|${modelVersion}|${symbol}|${featureDate}`;
}
