/** Bad input to FeatureService and TrainingService: symbols, feature sets, dates, ranges, pages, training specs and fold counts. */
import { Algorithm, JobState, type TrainingSpec } from '../../gen/nepse/training/v1/training_pb.js';
import { drain, type BadInputBed } from './bed.js';
import { BAD_SYMBOLS, Code, FUTURE, GARBAGE_TOKEN, IMPOSSIBLE, REVERSED, UNKNOWN_SYMBOL, type BadCase } from './case.js';
import { notProtobuf, rawUnary } from './wire.js';

export const FEATURE_CASES: BadCase[] = [
  ...BAD_SYMBOLS.map(([label, symbol]): BadCase => ({
    name: `FeatureService.GetFeatures: symbol ${label}`,
    call: (bed) => bed.direct.feature.getFeatures({ symbol }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbol',
  })),
  {
    name: 'FeatureService.GetFeatures: lowercase symbol is read as upper case',
    call: (bed) => bed.direct.feature.getFeatures({ symbol: ' nabil ' }),
    code: Code.OK,
  },
  {
    name: 'FeatureService.GetFeatures: unknown symbol',
    call: (bed) => bed.direct.feature.getFeatures({ symbol: UNKNOWN_SYMBOL }),
    code: Code.NOT_FOUND,
    field: 'feature vector',
  },
  {
    name: 'FeatureService.GetFeatures: unknown feature set',
    call: (bed) => bed.direct.feature.getFeatures({ symbol: 'NABIL', featureSet: { name: 'no_such_set', version: 1 } }),
    code: Code.NOT_FOUND,
    field: 'feature set',
  },
  {
    name: 'FeatureService.GetFeatures: feature set version -1',
    call: (bed) => bed.direct.feature.getFeatures({ symbol: 'NABIL', featureSet: { name: 'ohlcv', version: -1 } }),
    code: Code.INVALID_ARGUMENT,
    field: 'feature_set.version',
  },
  {
    name: 'FeatureService.GetFeatures: unknown feature set version',
    call: (bed) => bed.direct.feature.getFeatures({ symbol: 'NABIL', featureSet: { name: 'ohlcv', version: 999 } }),
    code: Code.NOT_FOUND,
    field: 'feature set',
  },
  {
    name: 'FeatureService.GetFeatures: impossible as_of',
    call: (bed) => bed.direct.feature.getFeatures({ symbol: 'NABIL', asOf: IMPOSSIBLE }),
    code: Code.INVALID_ARGUMENT,
    field: 'as_of',
  },
  {
    name: 'FeatureService.GetFeatures: future as_of',
    call: (bed) => bed.direct.feature.getFeatures({ symbol: 'NABIL', asOf: FUTURE }),
    code: Code.INVALID_ARGUMENT,
    field: 'as_of',
  },
  {
    name: 'FeatureService.GetFeatures: random bytes as the request',
    call: (bed) => rawUnary(bed.address.feature, '/nepse.feature.v1.FeatureService/GetFeatures', notProtobuf(64)),
    code: Code.INVALID_ARGUMENT,
    field: 'request',
  },
  {
    name: 'FeatureService.BatchGetFeatures: no symbols',
    call: (bed) => bed.direct.feature.batchGetFeatures({ symbols: [] }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols',
  },
  {
    name: 'FeatureService.BatchGetFeatures: 20,000 symbols',
    call: (bed) => bed.direct.feature.batchGetFeatures({ symbols: Array.from({ length: 20_000 }, (_, i) => `S${i}`) }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols',
  },
  {
    name: 'FeatureService.BatchGetFeatures: one SQL-like symbol among good ones',
    call: (bed) => bed.direct.feature.batchGetFeatures({ symbols: ['NABIL', "x' OR 1=1 --"] }),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols[1]',
  },
  {
    name: 'FeatureService.GetTrainingSet: reversed range',
    call: (bed) => drain(bed.direct.feature.getTrainingSet({ symbols: ['NABIL'], range: REVERSED })),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
  {
    name: 'FeatureService.GetTrainingSet: empty symbol',
    call: (bed) => drain(bed.direct.feature.getTrainingSet({ symbols: [''] })),
    code: Code.INVALID_ARGUMENT,
    field: 'symbols[0]',
  },
  {
    name: 'FeatureService.GetTrainingSet: impossible end date',
    call: (bed) => drain(bed.direct.feature.getTrainingSet({ symbols: ['NABIL'], range: { end: IMPOSSIBLE } })),
    code: Code.INVALID_ARGUMENT,
    field: 'range.end',
  },
  {
    name: 'FeatureService.ListFeatureSets: negative page size',
    call: (bed) => bed.direct.feature.listFeatureSets({ pageSize: -5 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'FeatureService.ListFeatureSets: garbage page token',
    call: (bed) => bed.direct.feature.listFeatureSets({ pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
];

/** A spec that would be accepted, spoilt in one field by each case (none of them starts a job). */
const spec = (change: Partial<TrainingSpec> = {}) =>
  ({ modelName: 'bad-input', algorithm: Algorithm.RIDGE, symbols: ['NABIL'], ...change }) as TrainingSpec;
const start = (bed: BadInputBed, change: Partial<TrainingSpec>) =>
  bed.direct.training.startTraining({ spec: spec(change), requestedBy: 'bad-input' });

export const TRAINING_CASES: BadCase[] = [
  {
    name: 'TrainingService.StartTraining: no spec',
    call: (bed) => bed.direct.training.startTraining({}),
    code: Code.INVALID_ARGUMENT,
    field: 'spec',
  },
  {
    name: 'TrainingService.StartTraining: model name with spaces and capitals',
    call: (bed) => start(bed, { modelName: 'Bad Name!' }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.model_name',
  },
  {
    name: 'TrainingService.StartTraining: SQL-like model name',
    call: (bed) => start(bed, { modelName: "m'; DELETE FROM models; --" }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.model_name',
  },
  {
    name: 'TrainingService.StartTraining: unknown algorithm value',
    call: (bed) => start(bed, { algorithm: 99 as Algorithm }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.algorithm',
  },
  {
    name: 'TrainingService.StartTraining: fold count -1',
    call: (bed) => start(bed, { foldCount: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.fold_count',
  },
  {
    name: 'TrainingService.StartTraining: fold count 1',
    call: (bed) => start(bed, { foldCount: 1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.fold_count',
  },
  {
    name: 'TrainingService.StartTraining: fold count 100,000',
    call: (bed) => start(bed, { foldCount: 100_000 }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.fold_count',
  },
  {
    name: 'TrainingService.StartTraining: NaN promotion margin',
    call: (bed) => start(bed, { promotionMargin: NaN }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.promotion_margin',
  },
  {
    name: 'TrainingService.StartTraining: ridge alpha Infinity',
    call: (bed) => start(bed, { hyperparameters: { case: 'ridge', value: { alpha: Infinity } as never } }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.ridge.alpha',
  },
  {
    name: 'TrainingService.StartTraining: lowercase SQL-like symbol',
    call: (bed) => start(bed, { symbols: ["nabil' --"] }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.symbols[0]',
  },
  {
    name: 'TrainingService.StartTraining: symbol that does not exist',
    call: (bed) => start(bed, { symbols: ['NABIL', UNKNOWN_SYMBOL] }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.symbols[1]',
  },
  {
    name: 'TrainingService.StartTraining: reversed date range',
    call: (bed) => start(bed, { dateRange: REVERSED as never }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.date_range.end',
  },
  {
    name: 'TrainingService.StartTraining: unknown feature set',
    call: (bed) => start(bed, { featureSet: { name: 'no_such_set', version: 3 } as never }),
    code: Code.INVALID_ARGUMENT,
    field: 'spec.feature_set',
  },
  {
    name: 'TrainingService.StartTraining: request id over 100 characters',
    call: (bed) => bed.direct.training.startTraining({ spec: spec(), requestId: 'r'.repeat(101) }),
    code: Code.INVALID_ARGUMENT,
    field: 'request_id',
  },
  {
    name: 'TrainingService.GetJob: empty job id',
    call: (bed) => bed.direct.training.getJob({ jobId: '' }),
    code: Code.INVALID_ARGUMENT,
    field: 'job_id',
  },
  {
    name: 'TrainingService.GetJob: unknown job id',
    call: (bed) => bed.direct.training.getJob({ jobId: 'no-such-job' }),
    code: Code.NOT_FOUND,
    field: 'training job',
  },
  {
    name: 'TrainingService.GetJob: 1 MB job id',
    call: (bed) => bed.direct.training.getJob({ jobId: 'j'.repeat(1024 * 1024) }),
    code: Code.INVALID_ARGUMENT,
    field: 'job_id',
  },
  {
    name: 'TrainingService.WatchJob: unknown job id',
    call: (bed) => drain(bed.direct.training.watchJob({ jobId: 'no-such-job' })),
    code: Code.NOT_FOUND,
    field: 'training job',
  },
  {
    name: 'TrainingService.WatchJob: empty job id',
    call: (bed) => drain(bed.direct.training.watchJob({ jobId: '' })),
    code: Code.INVALID_ARGUMENT,
    field: 'job_id',
  },
  {
    name: 'TrainingService.ListJobs: negative page size',
    call: (bed) => bed.direct.training.listJobs({ pageSize: -1 }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_size',
  },
  {
    name: 'TrainingService.ListJobs: garbage page token',
    call: (bed) => bed.direct.training.listJobs({ pageToken: GARBAGE_TOKEN }),
    code: Code.INVALID_ARGUMENT,
    field: 'page_token',
  },
  {
    name: 'TrainingService.ListJobs: unknown state value',
    call: (bed) => bed.direct.training.listJobs({ state: 42 as JobState }),
    code: Code.INVALID_ARGUMENT,
    field: 'state',
  },
  {
    name: 'TrainingService.ListJobs: bad model name filter',
    call: (bed) => bed.direct.training.listJobs({ modelName: 'NOT A NAME' }),
    code: Code.INVALID_ARGUMENT,
    field: 'model_name',
  },
];
