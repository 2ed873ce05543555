/**
 * Every Prometheus metric of the prediction service's request path, with its unit, in one place.
 * (The model cache's own metrics live beside it in model-cache.ts.) Registered once per process,
 * so several services started in one test process share them.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { boundCounter, boundHistogram, metric, type BoundCounter, type BoundHistogram } from '../../lib/telemetry/index.js';

/** Rows per inference run: powers of two up to the largest batch allowed. */
const ROW_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
/** Seconds, from 10 µs (one tiny run) to 1 s. */
const RUN_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

/** The metrics of the prediction request path. */
export interface PredictionMetrics {
  /** `nepse_prediction_inference_rows`: rows per inference run, by model. */
  inferenceRows: Histogram<'model'>;
  /** `nepse_prediction_inference_seconds`: duration of one inference run, by model. */
  inferenceSeconds: Histogram<'model'>;
  /** `nepse_predictions_total`: predictions served, by model and whether degraded. */
  predictions: Counter<'model' | 'degraded'>;
  /** `nepse_prediction_outputs_reused_total`: predictions answered with an output already computed for their vector, by model. */
  outputsReused: Counter<'model'>;
  /** `nepse_prediction_degraded_total`: answers from a cached vector, by DegradedReason. */
  degraded: Counter<'reason'>;
  /** `nepse_prediction_feature_cache_vectors`: feature vectors held for fallback. */
  cachedVectors: Gauge;
  /** `nepse_prediction_events_dropped_total`: predictions not published in PredictionsMade, by reason. */
  eventsDropped: Counter<'reason'>;
  /** `nepse_prediction_events_queued`: predictions waiting to be published in PredictionsMade. */
  eventsQueued: Gauge;
  /** `nepse_prediction_watchers`: open WatchPredictions streams. */
  watchers: Gauge;
}

/** The labelled series the request path touches on every prediction and every run. */
export interface PredictionSeries {
  /** Counts one prediction of `model`. */
  served(model: string, degraded: boolean): void;
  /** Records one inference run of `model`: its rows and its duration in seconds. */
  ran(model: string, rows: number, seconds: number): void;
  /** Counts one prediction of `model` that reused an output instead of running the model. */
  reused(model: string): void;
}

/**
 * {@link PredictionSeries} over `metrics` (one per metrics object), with each series bound once per
 * model and kept, so no labels object is built, nor a boolean turned into a string, nor the labels
 * hashed per prediction (lib/telemetry/bound-series.ts).
 */
export function predictionSeries(metrics: PredictionMetrics): PredictionSeries {
  let kept = SERIES.get(metrics);
  if (!kept) SERIES.set(metrics, (kept = seriesOver(metrics)));
  return kept;
}

const SERIES = new WeakMap<PredictionMetrics, PredictionSeries>();

function seriesOver(metrics: PredictionMetrics): PredictionSeries {
  const byModel = new Map<
    string,
    { live: BoundCounter; degraded: BoundCounter; reused: BoundCounter; rows: BoundHistogram; seconds: BoundHistogram }
  >();
  const of = (model: string) => {
    let series = byModel.get(model);
    if (!series) {
      series = {
        live: boundCounter(metrics.predictions, { model, degraded: 'false' }),
        degraded: boundCounter(metrics.predictions, { model, degraded: 'true' }),
        reused: boundCounter(metrics.outputsReused, { model }),
        rows: boundHistogram(metrics.inferenceRows, { model }),
        seconds: boundHistogram(metrics.inferenceSeconds, { model }),
      };
      byModel.set(model, series);
    }
    return series;
  };
  return {
    served: (model, degraded) => (degraded ? of(model).degraded : of(model).live).inc(),
    ran: (model, rows, seconds) => {
      const series = of(model);
      series.rows.observe(rows);
      series.seconds.observe(seconds);
    },
    reused: (model) => of(model).reused.inc(),
  };
}

/** The prediction service's metrics, registered on first use. */
export function predictionMetrics(): PredictionMetrics {
  return {
    inferenceRows: metric(
      'nepse_prediction_inference_rows',
      () =>
        new Histogram({
          name: 'nepse_prediction_inference_rows',
          help: 'Rows per inference run (micro-batch size), by model.',
          labelNames: ['model'],
          buckets: ROW_BUCKETS,
        }),
    ),
    inferenceSeconds: metric(
      'nepse_prediction_inference_seconds',
      () =>
        new Histogram({
          name: 'nepse_prediction_inference_seconds',
          help: 'Duration of one inference run, in seconds, by model.',
          labelNames: ['model'],
          buckets: RUN_BUCKETS,
        }),
    ),
    predictions: metric(
      'nepse_predictions_total',
      () =>
        new Counter({
          name: 'nepse_predictions_total',
          help: 'Predictions served, by model and whether a cached feature vector was used.',
          labelNames: ['model', 'degraded'],
        }),
    ),
    outputsReused: metric(
      'nepse_prediction_outputs_reused_total',
      () =>
        new Counter({
          name: 'nepse_prediction_outputs_reused_total',
          help: 'Predictions answered with the output the model already gave for the same feature vector, without an inference run, by model.',
          labelNames: ['model'],
        }),
    ),
    degraded: metric(
      'nepse_prediction_degraded_total',
      () =>
        new Counter({
          name: 'nepse_prediction_degraded_total',
          help: 'Predictions answered from a cached feature vector, by reason.',
          labelNames: ['reason'],
        }),
    ),
    cachedVectors: metric(
      'nepse_prediction_feature_cache_vectors',
      () =>
        new Gauge({
          name: 'nepse_prediction_feature_cache_vectors',
          help: 'Feature vectors held for degraded answers (latest per symbol and feature set).',
        }),
    ),
    eventsDropped: metric(
      'nepse_prediction_events_dropped_total',
      () =>
        new Counter({
          name: 'nepse_prediction_events_dropped_total',
          help: 'Predictions not published in PredictionsMade, by reason: queue_full, publish_failed or shutdown.',
          labelNames: ['reason'],
        }),
    ),
    eventsQueued: metric(
      'nepse_prediction_events_queued',
      () => new Gauge({ name: 'nepse_prediction_events_queued', help: 'Predictions waiting to be published in PredictionsMade.' }),
    ),
    watchers: metric(
      'nepse_prediction_watchers',
      () => new Gauge({ name: 'nepse_prediction_watchers', help: 'Open WatchPredictions streams.' }),
    ),
  };
}
