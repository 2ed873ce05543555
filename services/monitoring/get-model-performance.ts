import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { Baseline, type ForecastMetricsSchema } from '../../gen/nepse/market/v1/market_pb.js';
import {
  GetModelPerformanceResponseSchema,
  type GetModelPerformanceRequest,
  type GetModelPerformanceResponse,
} from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { requireSymbol, toProtoDate } from '../../lib/market/index.js';
import type { ModelInfoSource } from './model-info.js';
import type { ModelsSeen } from './models-seen.js';
import { featureDrift, liveFigures } from './performance.js';
import { shadowFigures, toShadowComparison } from './shadow-comparison.js';
import { modelNameField, modelVersionField, requireSeen } from './request-fields.js';
import type { Aggregate, MonitoringStore } from './store.js';

/** Window when a request leaves it 0, and the bounds of a given one, in calendar days. */
export const DEFAULT_WINDOW_DAYS = 30;
export const MAX_WINDOW_DAYS = 3650;

/** What GetModelPerformance reads. */
export interface PerformanceDeps {
  store: MonitoringStore;
  models: ModelsSeen;
  info: ModelInfoSource;
}

const metrics = (a: Aggregate): MessageInitShape<typeof ForecastMetricsSchema> => ({
  count: BigInt(a.count),
  maeReturn: a.maeReturn,
  rmseReturn: a.rmseReturn,
  maeClose: a.maeClose,
  rmseClose: a.rmseClose,
  mapeClose: a.mapeClose,
  directionalAccuracy: a.directionalAccuracy,
});

/**
 * GetModelPerformance: live figures of the model beside NO_CHANGE on the same pairs over the
 * window; for one version also its backtest figures and per-feature drift from the registry
 * (left out, not failed, when the registry does not answer in time).
 */
export async function getModelPerformance(
  deps: PerformanceDeps,
  request: GetModelPerformanceRequest,
): Promise<GetModelPerformanceResponse> {
  const modelName = modelNameField(request.modelName, true);
  modelVersionField(request.modelVersion);
  const symbol = request.symbol.trim() === '' ? '' : requireSymbol(request.symbol);
  const windowDays = request.windowDays === 0 ? DEFAULT_WINDOW_DAYS : request.windowDays;
  if (windowDays < 1 || windowDays > MAX_WINDOW_DAYS) {
    throw new InvalidArgumentError({
      field: 'window_days',
      description: `must be 1 to ${MAX_WINDOW_DAYS} (0 means ${DEFAULT_WINDOW_DAYS}), got ${request.windowDays}`,
    });
  }
  requireSeen(deps.models, modelName, request.modelVersion);

  const scope = { modelName, modelVersion: request.modelVersion, symbol };
  const single = request.modelVersion > 0;
  const [live, lookup] = await Promise.all([
    liveFigures(deps.store, scope, windowDays),
    single ? deps.info.lookup(modelName, request.modelVersion) : undefined,
  ]);
  const info = lookup && 'found' in lookup ? lookup.found : undefined;
  const drifts = info ? await featureDrift(deps.store, scope, live.window, info.distributions) : [];
  // Champion beside challenger: the version's shadow scored on the same bars in the same window.
  const shadow =
    single && live.window
      ? await shadowFigures(deps.store, modelName, request.modelVersion, symbol, live.window.from, live.window.to)
      : undefined;
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
      shadow: shadow && toShadowComparison(shadow),
    },
  });
}
