import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { Baseline, type ForecastMetricsSchema } from '../../gen/nepse/market/v1/market_pb.js';
import { GetModelPerformanceResponseSchema, type GetModelPerformanceRequest, type GetModelPerformanceResponse } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { InvalidArgumentError, NotFoundError } from '../../lib/grpc/index.js';
import { requireSymbol, toProtoDate } from '../../lib/market/index.js';
import type { ModelInfoSource } from './model-info.js';
import type { ModelsSeen } from './models-seen.js';
import { featureDrift, liveFigures } from './performance.js';
import type { Aggregate, MonitoringStore } from './store.js';

/** Window when a request leaves it 0, and the bounds of a given one, in calendar days. */
export const DEFAULT_WINDOW_DAYS = 30;
export const MAX_WINDOW_DAYS = 3650;

const MODEL_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/** What GetModelPerformance reads. */
export interface PerformanceDeps {
  store: MonitoringStore;
  models: ModelsSeen;
  info: ModelInfoSource;
}

const metrics = (a: Aggregate): MessageInitShape<typeof ForecastMetricsSchema> => ({
  count: BigInt(a.count), maeReturn: a.maeReturn, rmseReturn: a.rmseReturn, maeClose: a.maeClose, rmseClose: a.rmseClose, mapeClose: a.mapeClose, directionalAccuracy: a.directionalAccuracy,
});

/**
 * GetModelPerformance: live figures of the model beside NO_CHANGE on the same pairs over the
 * window; for one version also its backtest figures and per-feature drift from the registry
 * (left out, not failed, when the registry does not answer in time).
 */
export async function getModelPerformance(deps: PerformanceDeps, request: GetModelPerformanceRequest): Promise<GetModelPerformanceResponse> {
  const modelName = request.modelName.trim();
  if (modelName === '') throw new InvalidArgumentError({ field: 'model_name', description: 'model_name is required' });
  if (!MODEL_NAME.test(modelName)) throw new InvalidArgumentError({ field: 'model_name', description: `${JSON.stringify(modelName.slice(0, 70))} is not a model name (^[a-z][a-z0-9_-]{0,62}$)` });
  if (request.modelVersion < 0) throw new InvalidArgumentError({ field: 'model_version', description: `must be 0 (every version) or a version >= 1, got ${request.modelVersion}` });
  const symbol = request.symbol.trim() === '' ? '' : requireSymbol(request.symbol);
  const windowDays = request.windowDays === 0 ? DEFAULT_WINDOW_DAYS : request.windowDays;
  if (windowDays < 1 || windowDays > MAX_WINDOW_DAYS) {
    throw new InvalidArgumentError({ field: 'window_days', description: `must be 1 to ${MAX_WINDOW_DAYS} (0 means ${DEFAULT_WINDOW_DAYS}), got ${request.windowDays}` });
  }
  if (!deps.models.has(modelName)) throw new NotFoundError('model', modelName, `no prediction of model ${JSON.stringify(modelName)} was ever seen`);
  if (!deps.models.has(modelName, request.modelVersion)) {
    throw new NotFoundError('model', `${modelName} v${request.modelVersion}`, `no prediction of ${modelName} v${request.modelVersion} was ever seen`);
  }

  const scope = { modelName, modelVersion: request.modelVersion, symbol };
  const single = request.modelVersion > 0;
  const [live, lookup] = await Promise.all([liveFigures(deps.store, scope, windowDays), single ? deps.info.lookup(modelName, request.modelVersion) : undefined]);
  const info = lookup && 'found' in lookup ? lookup.found : undefined;
  const drifts = info ? await featureDrift(deps.store, scope, live.window, info.distributions) : [];
  return create(GetModelPerformanceResponseSchema, {
    report: {
      modelName,
      modelVersion: request.modelVersion,
      symbol,
      windowDays,
      window: live.window ? { start: toProtoDate(live.window.from), end: toProtoDate(live.window.to) } : undefined,
      live: { model: metrics(live.model), baselines: [{ baseline: Baseline.NO_CHANGE, metrics: metrics(live.noChange) }] },
      backtest: info?.backtest,
      featureDrift: drifts.map((d) => ({ feature: d.feature, psi: d.psi, sampleCount: BigInt(d.samples) })),
      pendingPredictions: BigInt(live.pending),
      computedAt: timestampNow(),
    },
  });
}
