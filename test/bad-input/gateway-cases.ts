/**
 * Bad input to the gateway: its own RPCs, and the public RPCs it forwards (whose refusals must
 * reach the caller with their code and field unchanged), with the admin key.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { ImportCsvRequestSchema } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { Stage } from '../../gen/nepse/registry/v1/registry_pb.js';
import { Algorithm } from '../../gen/nepse/training/v1/training_pb.js';
import { drain } from './bed.js';
import { Code, GARBAGE_TOKEN, IMPOSSIBLE, REVERSED, UNKNOWN_SYMBOL, type BadCase } from './case.js';
import { notProtobuf, rawClientStream, rawUnary, refusedOf } from './wire.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
const HEADER = 'Symbol,Date,Open,High,Low,Close,Volume';

export const GATEWAY_CASES: BadCase[] = [
  {
    name: 'GatewayService.GetDashboard: negative page size',
    call: (bed) => bed.viaGateway.gateway.getDashboard({ pageSize: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'GatewayService.GetDashboard: garbage page token',
    call: (bed) => bed.viaGateway.gateway.getDashboard({ pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'GatewayService.GetDashboard: bad model name',
    call: (bed) => bed.viaGateway.gateway.getDashboard({ modelName: 'NOT A MODEL' }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_name',
  },
  {
    name: 'GatewayService.GetSymbolOverview: empty symbol',
    call: (bed) => bed.viaGateway.gateway.getSymbolOverview({ symbol: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'GatewayService.GetSymbolOverview: SQL-like symbol',
    call: (bed) => bed.viaGateway.gateway.getSymbolOverview({ symbol: "'; DROP TABLE bars; --" }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'GatewayService.GetSymbolOverview: reversed range',
    call: (bed) => bed.viaGateway.gateway.getSymbolOverview({ symbol: 'NABIL', range: REVERSED }),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
  {
    name: 'GatewayService.GetSymbolOverview: negative window',
    call: (bed) => bed.viaGateway.gateway.getSymbolOverview({ symbol: 'NABIL', windowDays: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'window_days',
  },
  {
    name: 'GatewayService.UploadCsv: empty file',
    call: (bed) => bed.viaGateway.gateway.uploadCsv({ content: new Uint8Array() }),
    code: Code.INVALID_ARGUMENT,
    field: 'content',
  },
  {
    name: 'GatewayService.UploadCsv: binary file',
    call: (bed) => bed.viaGateway.gateway.uploadCsv({ content: notProtobuf(8192, 21) }),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'GatewayService.UploadCsv: ambiguous dates',
    call: (bed) => bed.viaGateway.gateway.uploadCsv({ content: utf8(`${HEADER}\nBADIN,01/02/2025,100,105,98,102,1000\n`) }),
    code: Code.INVALID_ARGUMENT,
    field: 'options.date_order',
  },
  {
    name: 'GatewayService.UploadCsv: only bad rows (1e400 close)',
    call: (bed) =>
      bed.viaGateway.gateway
        .uploadCsv({ content: utf8(`${HEADER}\nBADIN,2024-03-04,100,105,98,1e400,1000\n`) })
        .then((a) => refusedOf(a.result ?? {})),
    code: Code.OK,
    field: 'close',
  },
  {
    name: 'GatewayService.UploadCsv: over the upload limit',
    call: (bed) => bed.viaGateway.gateway.uploadCsv({ content: new Uint8Array(32 * 1024 * 1024 + 1) }),
    code: Code.INVALID_ARGUMENT,
    field: 'content',
  },
  { name: 'GatewayService.WhoAmI: no credentials', call: (bed) => bed.direct.gateway.whoAmI({}), code: Code.UNAUTHENTICATED },
  {
    name: 'GatewayService.ListApiKeys: a key that is not one',
    call: (bed) => bed.direct.gateway.listApiKeys({}, { metadata: { authorization: 'Bearer nepse_x_' + 'A'.repeat(10_000) } }),
    code: Code.UNAUTHENTICATED,
  },
  {
    name: 'GatewayService.GetDashboard: random bytes as the request',
    call: (bed) =>
      rawUnary(bed.address.gateway, '/nepse.gateway.v1.GatewayService/GetDashboard', notProtobuf(100, 17), { metadata: bed.auth }),
    code: Code.INVALID_ARGUMENT,
    todo: 'connect-node decodes a unary request before any interceptor runs and reports bytes it cannot parse as INTERNAL; the gateway would need to check gRPC frames itself to answer INVALID_ARGUMENT',
  },

  // What the gateway forwards comes back with the service's code and field.
  {
    name: 'gateway → PredictionService.Predict: empty symbol',
    call: (bed) => bed.viaGateway.prediction.predict({ symbol: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  },
  {
    name: 'gateway → PredictionService.Predict: random bytes as the request',
    call: (bed) =>
      rawUnary(bed.address.gateway, '/nepse.prediction.v1.PredictionService/Predict', notProtobuf(200, 19), { metadata: bed.auth }),
    code: Code.INVALID_ARGUMENT,
    field: 'request',
  },
  {
    name: 'gateway → PredictionService.Predict: a 40 MiB request',
    call: (bed) =>
      rawUnary(bed.address.gateway, '/nepse.prediction.v1.PredictionService/Predict', new Uint8Array(40 * 1024 * 1024), {
        metadata: bed.auth,
      }),
    code: Code.RESOURCE_EXHAUSTED,
  },
  {
    name: 'gateway → PredictionService.PredictBatch: no symbols',
    call: (bed) => bed.viaGateway.prediction.predictBatch({ symbols: [] }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols',
  },
  {
    name: 'gateway → PredictionService.WatchPredictions: no symbols',
    call: (bed) => drain(bed.viaGateway.prediction.watchPredictions({ symbols: [] })),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols',
  },
  {
    name: 'gateway → IngestionService.GetBars: reversed range',
    call: (bed) => drain(bed.viaGateway.ingestion.getBars({ symbol: 'NABIL', range: REVERSED })),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
  {
    name: 'gateway → IngestionService.ListSymbols: garbage page token',
    call: (bed) => bed.viaGateway.ingestion.listSymbols({ pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'gateway → IngestionService.ImportCsv: binary file',
    call: (bed) => bed.viaGateway.ingestion.importCsv([{ chunk: notProtobuf(4096, 23) }]),
    code: Code.INVALID_ARGUMENT,
    field: 'chunk',
  },
  {
    name: 'gateway → IngestionService.ImportCsv: a silent stream is cut at its deadline, upstream too',
    call: (bed) =>
      rawClientStream(
        bed.address.gateway,
        '/nepse.ingestion.v1.IngestionService/ImportCsv',
        [toBinary(ImportCsvRequestSchema, create(ImportCsvRequestSchema, { chunk: utf8(`${HEADER}\n`) }))],
        { metadata: bed.auth, end: false, timeoutMs: 2_000 },
      ),
    code: Code.DEADLINE_EXCEEDED,
    withinMs: 7_000,
  },
  {
    name: 'gateway → FeatureService.GetFeatures: impossible as_of',
    call: (bed) => bed.viaGateway.feature.getFeatures({ symbol: 'NABIL', asOf: IMPOSSIBLE }),
    code: Code.INVALID_ARGUMENT,
    field: 'as_of',
  },
  {
    name: 'gateway → RegistryService.TransitionStage: archived straight to Production',
    call: (bed) =>
      bed.viaGateway.registry.transitionStage({
        name: bed.model.name,
        version: bed.model.archived,
        targetStage: Stage.PRODUCTION,
        reason: 'bad-input',
      }),
    code: Code.FAILED_PRECONDITION,
    field: 'STAGE_TRANSITION',
  },
  {
    name: 'gateway → RegistryService.GetModel: unknown model',
    call: (bed) => bed.viaGateway.registry.getModel({ name: 'no-such-model' }),
    code: Code.NOT_FOUND,
    field: 'model',
  },
  {
    name: 'gateway → TrainingService.StartTraining: fold count 1',
    call: (bed) =>
      bed.viaGateway.training.startTraining({
        spec: { modelName: 'bad-input', algorithm: Algorithm.RIDGE, symbols: ['NABIL'], foldCount: 1 },
      }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.fold_count',
  },
  {
    name: 'gateway → TrainingService.StartTraining: symbol that does not exist',
    call: (bed) =>
      bed.viaGateway.training.startTraining({ spec: { modelName: 'bad-input', algorithm: Algorithm.RIDGE, symbols: [UNKNOWN_SYMBOL] } }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.symbols[0]',
  },
  {
    name: 'gateway → TrainingService.ListJobs: negative page size',
    call: (bed) => bed.viaGateway.training.listJobs({ pageSize: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'gateway → MonitoringService.ListScoredPredictions: reversed range',
    call: (bed) => bed.viaGateway.monitoring.listScoredPredictions({ symbol: 'NABIL', range: REVERSED }),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
];
