import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  ListScoredPredictionsResponseSchema,
  type ListScoredPredictionsRequest,
  type ListScoredPredictionsResponse,
} from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import {
  decodePageToken,
  encodePageToken,
  MODEL_NAME_CHARS,
  pageSize,
  rangeBounds,
  requireSymbol,
  toProtoDate,
} from '../../lib/market/index.js';
import { modelNameField, modelVersionField } from './request-fields.js';
import type { MonitoringStore, PredictionFilter, ScoredPredictionRow } from './store.js';

/** The key after which the next page starts: the last prediction's feature day, model and version. */
/** A page cursor: `<feature day>|<model name>|<version>`. */
const CURSOR = new RegExp(`^(\\d{4}-\\d{2}-\\d{2})\\|(${MODEL_NAME_CHARS})\\|(\\d{1,9})$`);

function decodeCursor(token: string): PredictionFilter['after'] {
  const cursor = decodePageToken(token);
  if (cursor === '') return undefined;
  const match = CURSOR.exec(cursor);
  if (!match) throw new InvalidArgumentError({ field: 'page_token', description: 'not a page token returned by this service' });
  return { featureDate: match[1], modelName: match[2], modelVersion: Number(match[3]) };
}

const toMessage = (row: ScoredPredictionRow) => ({
  modelName: row.modelName,
  modelVersion: row.modelVersion,
  symbol: row.symbol,
  featureDate: toProtoDate(row.featureDate),
  targetDate: row.score ? toProtoDate(row.score.targetDate) : undefined,
  baseClose: row.baseClose,
  predictedReturn: row.predictedReturn,
  predictedClose: row.predictedClose,
  scored: Boolean(row.score),
  actualClose: row.score?.actualClose ?? 0,
  actualReturn: row.score?.actualReturn ?? 0,
  absErrorClose: row.score?.absErrClose ?? 0,
  absErrorReturn: row.score?.absErrReturn ?? 0,
  noChangeAbsErrorClose: row.score?.baseAbsErrClose ?? 0,
  noChangeAbsErrorReturn: row.score?.baseAbsErrReturn ?? 0,
  degraded: row.degraded,
  predictedAt: timestampFromMs(row.predictedAt.getTime()),
});

/**
 * ListScoredPredictions: the predictions monitoring heard for one symbol, newest feature day
 * first, each with the actual close of its target day and the errors of the model and of
 * NO_CHANGE once scored; what a chart of predictions against actual closes draws. A model never
 * seen lists nothing (the symbol may simply not be predicted yet).
 */
export async function listScoredPredictions(
  store: MonitoringStore,
  request: ListScoredPredictionsRequest,
): Promise<ListScoredPredictionsResponse> {
  if (request.symbol.trim() === '') throw new InvalidArgumentError({ field: 'symbol', description: 'symbol is required' });
  const symbol = requireSymbol(request.symbol);
  const modelName = modelNameField(request.modelName, false);
  const modelVersion = modelVersionField(request.modelVersion);
  if (modelVersion > 0 && modelName === '')
    throw new InvalidArgumentError({ field: 'model_name', description: 'a model_version needs the model_name it belongs to' });
  const { from, to } = rangeBounds(request.range, 'range');
  const limit = pageSize(request.pageSize);
  const after = decodeCursor(request.pageToken);
  const rows = await store.listPredictions({ symbol, modelName, modelVersion, from, to, after, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return create(ListScoredPredictionsResponseSchema, {
    predictions: page.map(toMessage),
    nextPageToken: rows.length > limit && last ? encodePageToken(`${last.featureDate}|${last.modelName}|${last.modelVersion}`) : '',
  });
}
