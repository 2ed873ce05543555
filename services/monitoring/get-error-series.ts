import { create } from '@bufbuild/protobuf';
import {
  GetErrorSeriesResponseSchema,
  type GetErrorSeriesRequest,
  type GetErrorSeriesResponse,
} from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import { rangeBounds, requireSymbol, toProtoDate } from '../../lib/market/index.js';
import type { ModelsSeen } from './models-seen.js';
import { modelNameField, modelVersionField, requireSeen } from './request-fields.js';
import type { DayErrors, MonitoringStore } from './store.js';

/** Scored days a point may average over, and the points a series holds by default and at most. */
export const MAX_ROLLING_DAYS = 250;
export const DEFAULT_MAX_POINTS = 250;
export const MAX_POINTS = 3650;

/** One point of the series: the mean errors over `days`, ending on the last of them. */
export interface ErrorPointValue {
  day: string;
  count: number;
  maeReturn: number;
  maeClose: number;
  noChangeMaeReturn: number;
  noChangeMaeClose: number;
}

/**
 * Rolling means over per-day sums: each point averages the scored predictions of its day and of
 * the `rollingDays - 1` scored days before it (days without scores do not count), so a point
 * weighs each prediction once, whatever the day it fell on.
 */
export function rollingErrors(days: readonly DayErrors[], rollingDays: number): ErrorPointValue[] {
  const sum = { count: 0, absReturn: 0, absClose: 0, baseAbsReturn: 0, baseAbsClose: 0 };
  const add = (d: DayErrors, sign: 1 | -1) => {
    sum.count += sign * d.count;
    sum.absReturn += sign * d.absReturn;
    sum.absClose += sign * d.absClose;
    sum.baseAbsReturn += sign * d.baseAbsReturn;
    sum.baseAbsClose += sign * d.baseAbsClose;
  };
  return days.map((day, i) => {
    add(day, 1);
    if (i >= rollingDays) add(days[i - rollingDays], -1);
    const n = sum.count;
    return {
      day: day.day,
      count: n,
      maeReturn: sum.absReturn / n,
      maeClose: sum.absClose / n,
      noChangeMaeReturn: sum.baseAbsReturn / n,
      noChangeMaeClose: sum.baseAbsClose / n,
    };
  });
}

/**
 * GetErrorSeries: the model's live error per scored target day (or rolling over the latest scored
 * days) beside NO_CHANGE on the same predictions, oldest first, the latest `max_points` of them.
 */
export async function getErrorSeries(
  deps: { store: MonitoringStore; models: ModelsSeen },
  request: GetErrorSeriesRequest,
): Promise<GetErrorSeriesResponse> {
  const modelName = modelNameField(request.modelName, true);
  const modelVersion = modelVersionField(request.modelVersion);
  const symbol = request.symbol.trim() === '' ? '' : requireSymbol(request.symbol);
  const { from, to } = rangeBounds(request.range, 'range');
  const rollingDays = request.rollingDays === 0 ? 1 : request.rollingDays;
  if (rollingDays < 1 || rollingDays > MAX_ROLLING_DAYS) {
    throw new InvalidArgumentError({
      field: 'rolling_days',
      description: `must be 1 to ${MAX_ROLLING_DAYS} (0 means 1), got ${request.rollingDays}`,
    });
  }
  if (request.maxPoints < 0 || request.maxPoints > MAX_POINTS) {
    throw new InvalidArgumentError({
      field: 'max_points',
      description: `must be 1 to ${MAX_POINTS} (0 means ${DEFAULT_MAX_POINTS}), got ${request.maxPoints}`,
    });
  }
  const maxPoints = request.maxPoints || DEFAULT_MAX_POINTS;
  requireSeen(deps.models, modelName, modelVersion);
  const days = await deps.store.errorsByDay({ modelName, modelVersion, symbol }, from, to);
  // The window of the first point shown reaches back before it: roll over every day read, then cut.
  const points = rollingErrors(days, rollingDays).slice(-maxPoints);
  return create(GetErrorSeriesResponseSchema, {
    modelName,
    modelVersion,
    symbol,
    rollingDays,
    points: points.map((p) => ({
      targetDate: toProtoDate(p.day),
      count: BigInt(p.count),
      maeReturn: p.maeReturn,
      maeClose: p.maeClose,
      noChangeMaeReturn: p.noChangeMaeReturn,
      noChangeMaeClose: p.noChangeMaeClose,
    })),
  });
}
