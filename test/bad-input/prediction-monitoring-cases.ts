/** Bad input to PredictionService, the Open Inference Protocol and MonitoringService. */
import { GRPCInferenceService } from '../../gen/inference/grpc_service_pb.js';
import { AlertSeverity, AlertState } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { createGrpcClient } from '../../lib/grpc/index.js';
import { BED_SYMBOLS, drain, type BadInputBed } from './bed.js';
import { BAD_SYMBOLS, Code, GARBAGE_TOKEN, IMPOSSIBLE, REVERSED, UNKNOWN_SYMBOL, type BadCase } from './case.js';
import { notProtobuf, rawUnary, silentAfter, throwStatus } from './wire.js';

/** Runs `use` with an inference client of the bed's prediction service. */
async function withInference<T>(
  bed: BadInputBed,
  use: (client: ReturnType<typeof createGrpcClient<typeof GRPCInferenceService>>) => Promise<T>,
): Promise<T> {
  const client = createGrpcClient(GRPCInferenceService, bed.address.prediction);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** Sends one StreamPredictions request and throws the error its response carries. */
async function streamOne(bed: BadInputBed, request: Record<string, unknown>): Promise<void> {
  for await (const response of bed.direct.prediction.streamPredictions([{ requestId: 'r1', ...request }])) {
    if (response.outcome.case === 'error') throwStatus(response.outcome.value);
    for (const result of response.results) if (result.outcome.case === 'error') throwStatus(result.outcome.value);
  }
}

/** Predicts a batch and throws the first per-symbol error. */
async function batchOf(bed: BadInputBed, symbols: string[]): Promise<void> {
  const { results } = await bed.direct.prediction.predictBatch({ symbols });
  for (const result of results) if (result.outcome.case === 'error') throwStatus(result.outcome.value);
}

export const PREDICTION_CASES: BadCase[] = [
  ...BAD_SYMBOLS.map(([label, symbol]): BadCase => ({
    name: `PredictionService.Predict: symbol ${label}`,
    call: (bed) => bed.direct.prediction.predict({ symbol }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  })),
  {
    name: 'PredictionService.Predict: lowercase symbol is read as upper case',
    call: (bed) => bed.direct.prediction.predict({ symbol: 'nabil' }),
    code: Code.OK,
  },
  {
    name: 'PredictionService.Predict: unknown symbol',
    call: (bed) => bed.direct.prediction.predict({ symbol: UNKNOWN_SYMBOL }),
    code: Code.NOT_FOUND,
    field: 'symbol',
  },
  {
    name: 'PredictionService.Predict: unknown model',
    call: (bed) => bed.direct.prediction.predict({ symbol: 'NABIL', modelName: 'no-such-model' }),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'PredictionService.Predict: SQL-like model name',
    call: (bed) => bed.direct.prediction.predict({ symbol: 'NABIL', modelName: "m' OR 1=1" }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_name',
  },
  {
    name: 'PredictionService.Predict: model version -1',
    call: (bed) => bed.direct.prediction.predict({ symbol: 'NABIL', modelName: bed.model.name, modelVersion: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_version',
  },
  {
    name: 'PredictionService.Predict: model version not served',
    call: (bed) => bed.direct.prediction.predict({ symbol: 'NABIL', modelName: bed.model.name, modelVersion: 999 }),
    code: Code.FAILED_PRECONDITION,
  },
  {
    name: 'PredictionService.Predict: impossible as_of',
    call: (bed) => bed.direct.prediction.predict({ symbol: 'NABIL', asOf: IMPOSSIBLE }),
    code: Code.INVALID_ARGUMENT,
    field: 'as_of',
  },
  {
    name: 'PredictionService.Predict: random bytes as the request',
    call: (bed) => rawUnary(bed.address.prediction, '/nepse.prediction.v1.PredictionService/Predict', notProtobuf(200, 13)),
    code: Code.INVALID_ARGUMENT,
    field: 'request',
  },
  {
    name: 'PredictionService.Predict: a 17 MiB request, over the 16 MiB limit',
    call: (bed) => rawUnary(bed.address.prediction, '/nepse.prediction.v1.PredictionService/Predict', new Uint8Array(17 * 1024 * 1024)),
    code: Code.RESOURCE_EXHAUSTED,
  },
  { name: 'PredictionService.PredictBatch: no symbols', call: (bed) => batchOf(bed, []), code: Code.INVALID_ARGUMENT, field: 'symbols' },
  {
    name: 'PredictionService.PredictBatch: 20,000 symbols',
    call: (bed) =>
      batchOf(
        bed,
        Array.from({ length: 20_000 }, () => 'NABIL'),
      ),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols',
  },
  {
    name: 'PredictionService.PredictBatch: one overlong symbol among good ones',
    call: (bed) => batchOf(bed, [...BED_SYMBOLS, 'X'.repeat(100)]),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols[2]',
  },
  {
    name: 'PredictionService.StreamPredictions: empty symbol',
    call: (bed) => streamOne(bed, { symbol: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'PredictionService.StreamPredictions: symbol and symbols both set',
    call: (bed) => streamOne(bed, { symbol: 'NABIL', symbols: ['UPPER'] }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'PredictionService.StreamPredictions: request id over 100 characters',
    call: (bed) => streamOne(bed, { symbol: 'NABIL', requestId: 'r'.repeat(101) }),
    code: Code.INVALID_ARGUMENT,
    field: 'request_id',
  },
  {
    name: 'PredictionService.StreamPredictions: a request stream that never ends is cut at its deadline',
    call: async (bed) => {
      const stop = new AbortController();
      try {
        return await drain(
          bed.direct.prediction.streamPredictions(silentAfter([{ requestId: 'r1', symbol: 'NABIL' }], stop.signal), { timeoutMs: 1_500 }),
        );
      } finally {
        stop.abort();
      }
    },
    code: Code.DEADLINE_EXCEEDED,
    withinMs: 6_000,
  },
  {
    name: 'PredictionService.WatchPredictions: no symbols',
    call: (bed) => drain(bed.direct.prediction.watchPredictions({ symbols: [] })),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols',
  },
  {
    name: 'PredictionService.WatchPredictions: SQL-like symbol',
    call: (bed) => drain(bed.direct.prediction.watchPredictions({ symbols: ["' OR 1=1"] })),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols[0]',
  },
  {
    name: 'PredictionService.WatchPredictions: bad model name',
    call: (bed) => drain(bed.direct.prediction.watchPredictions({ symbols: ['NABIL'], modelName: 'Bad Name' })),
    code: Code.INVALID_ARGUMENT,
    field: 'model_name',
  },
  {
    name: 'GRPCInferenceService.ModelInfer: unknown model',
    call: (bed) => withInference(bed, (c) => c.modelInfer({ modelName: 'no-such-model' })),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'GRPCInferenceService.ModelInfer: tensor shorter than its shape',
    call: (bed) =>
      withInference(bed, (c) =>
        c.modelInfer({
          modelName: bed.model.name,
          inputs: [{ name: 'features', datatype: 'FP32', shape: [1n, 25n], contents: { fp32Contents: [1, 2, 3] } }],
        }),
      ),
    code: Code.INVALID_ARGUMENT,
    field: 'inputs[0].contents.fp32_contents',
  },
  {
    name: 'GRPCInferenceService.ModelInfer: version that is not a number',
    call: (bed) => withInference(bed, (c) => c.modelInfer({ modelName: bed.model.name, modelVersion: 'v1; DROP' })),
    code: Code.INVALID_ARGUMENT,
    field: 'model_version',
  },
  {
    name: 'GRPCInferenceService.ModelMetadata: a 1 MB name, echoed in the answer',
    call: (bed) => withInference(bed, (c) => c.modelMetadata({ name: 'm'.repeat(1024 * 1024) })),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'GRPCInferenceService.ModelMetadata: no name',
    call: (bed) => withInference(bed, (c) => c.modelMetadata({ name: '' })),
    code: Code.INVALID_ARGUMENT,
    field: 'name',
  },
  {
    name: 'GRPCInferenceService.ModelReady: version -1',
    call: (bed) => withInference(bed, (c) => c.modelReady({ name: bed.model.name, version: '-1' })),
    code: Code.INVALID_ARGUMENT,
    field: 'version',
  },
  {
    name: 'GRPCInferenceService.ModelStreamInfer: unknown model',
    call: (bed) =>
      withInference(bed, async (c) => {
        for await (const response of c.modelStreamInfer([{ modelName: 'no-such-model' }]))
          if (response.errorMessage) throw Object.assign(new Error(response.errorMessage), { code: Code.NOT_FOUND });
      }),
    code: Code.NOT_FOUND,
  },
];

export const MONITORING_CASES: BadCase[] = [
  {
    name: 'MonitoringService.GetModelPerformance: no model name',
    call: (bed) => bed.direct.monitoring.getModelPerformance({ modelName: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_name',
  },
  {
    name: 'MonitoringService.GetModelPerformance: SQL-like model name',
    call: (bed) => bed.direct.monitoring.getModelPerformance({ modelName: "x'; DROP TABLE predictions; --" }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_name',
  },
  {
    name: 'MonitoringService.GetModelPerformance: unknown model',
    call: (bed) => bed.direct.monitoring.getModelPerformance({ modelName: 'no-such-model' }),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'MonitoringService.GetModelPerformance: negative window',
    call: (bed) => bed.direct.monitoring.getModelPerformance({ modelName: bed.model.name, windowDays: -7 }),
    code: Code.INVALID_ARGUMENT,
    field: 'window_days',
  },
  {
    name: 'MonitoringService.GetModelPerformance: version -2',
    call: (bed) => bed.direct.monitoring.getModelPerformance({ modelName: bed.model.name, modelVersion: -2 }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_version',
  },
  {
    name: 'MonitoringService.GetModelPerformance: overlong symbol',
    call: (bed) => bed.direct.monitoring.getModelPerformance({ modelName: bed.model.name, symbol: 'S'.repeat(300) }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'MonitoringService.ListAlerts: negative page size',
    call: (bed) => bed.direct.monitoring.listAlerts({ pageSize: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'MonitoringService.ListAlerts: garbage page token',
    call: (bed) => bed.direct.monitoring.listAlerts({ pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'MonitoringService.ListAlerts: unknown state value',
    call: (bed) => bed.direct.monitoring.listAlerts({ state: 12 as AlertState }),
    code: Code.INVALID_ARGUMENT,
    field: 'state',
  },
  {
    name: 'MonitoringService.ListAlerts: SQL-like symbol',
    call: (bed) => bed.direct.monitoring.listAlerts({ symbol: "' OR 1=1 --" }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'MonitoringService.WatchAlerts: unknown severity value',
    call: (bed) => drain(bed.direct.monitoring.watchAlerts({ minSeverity: 40 as AlertSeverity })),
    code: Code.INVALID_ARGUMENT,
    field: 'min_severity',
  },
  {
    name: 'MonitoringService.ListScoredPredictions: empty symbol',
    call: (bed) => bed.direct.monitoring.listScoredPredictions({ symbol: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'MonitoringService.ListScoredPredictions: reversed range',
    call: (bed) => bed.direct.monitoring.listScoredPredictions({ symbol: 'NABIL', range: REVERSED }),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
  {
    name: 'MonitoringService.ListScoredPredictions: garbage page token',
    call: (bed) => bed.direct.monitoring.listScoredPredictions({ symbol: 'NABIL', pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'MonitoringService.ListScoredPredictions: negative page size',
    call: (bed) => bed.direct.monitoring.listScoredPredictions({ symbol: 'NABIL', pageSize: -10 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'MonitoringService.ListScoredPredictions: version without a model name',
    call: (bed) => bed.direct.monitoring.listScoredPredictions({ symbol: 'NABIL', modelVersion: 2 }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_name',
  },
  {
    name: 'MonitoringService.GetErrorSeries: negative rolling window',
    call: (bed) => bed.direct.monitoring.getErrorSeries({ modelName: bed.model.name, rollingDays: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'rolling_days',
  },
  {
    name: 'MonitoringService.GetErrorSeries: a billion points',
    call: (bed) => bed.direct.monitoring.getErrorSeries({ modelName: bed.model.name, maxPoints: 1_000_000_000 }),
    code: Code.INVALID_ARGUMENT,
    field: 'max_points',
  },
  {
    name: 'MonitoringService.GetErrorSeries: reversed range',
    call: (bed) => bed.direct.monitoring.getErrorSeries({ modelName: bed.model.name, range: REVERSED }),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
  {
    name: 'MonitoringService.GetErrorSeries: impossible start date',
    call: (bed) => bed.direct.monitoring.getErrorSeries({ modelName: bed.model.name, range: { start: IMPOSSIBLE } }),
    code: Code.INVALID_ARGUMENT,
    field: 'range.start',
  },
];
