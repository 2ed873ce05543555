/**
 * Models for tests of the prediction service's model cache, loader, activation and inference
 * protocol: models opened straight from bytes (no registry), their expected answers, and ONNX
 * graphs that pass the registry's zero-vector check but must fail the prediction service's smoke test.
 */
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  ModelProtoSchema,
  type NodeProtoSchema,
  TensorProto_DataType,
  type TensorProtoSchema,
} from '../gen/onnx/onnx_pb.js';
import { openModel, type ModelDescription } from '../services/prediction/inference-open.js';
import type { LoadedModel } from '../services/prediction/inference-session.js';
import { floatTensorInfo, linearModel } from './models.js';

const FLOAT = TensorProto_DataType.FLOAT;

/** Width of the `ohlcv` v1 feature set the test feature service serves. */
export const TEST_WIDTH = 25;

/** linearModel's default weights: 0.001 · (i + 1). */
export const testWeights = (width = TEST_WIDTH) => Array.from({ length: width }, (_, i) => 0.001 * (i + 1));

/** What the registry would say about `name`/`version` of a next-day log-return model on `ohlcv` v1. */
export function testDescription(name: string, version: number, width = TEST_WIDTH): ModelDescription {
  return { name, version, featureSet: { name: 'ohlcv', version: 1 }, inputWidth: width, inputName: 'features', outputName: 'log_return' };
}

/** A linear model (testing.ts `linearModel`, default weights) opened as `name`/`version`. */
export function openLinear(name: string, version: number, bias: number, width = TEST_WIDTH): Promise<LoadedModel> {
  return openModel(linearModel({ width, bias }), testDescription(name, version, width));
}

/** What the linear model with `bias` answers for each row of `rows`, in float64. */
export function expectedLinear(rows: ArrayLike<number>, bias: number, width = TEST_WIDTH): number[] {
  const weights = testWeights(width);
  const out: number[] = [];
  for (let r = 0; r * width < rows.length; r++) {
    let sum = bias;
    for (let i = 0; i < width; i++) sum += rows[r * width + i] * weights[i];
    out.push(sum);
  }
  return out;
}

/** Rows of plausible feature values (−1 … 1), deterministic for a seed. */
export function testRows(count: number, seed = 1, width = TEST_WIDTH): Float32Array {
  const rows = new Float32Array(count * width);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < rows.length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    rows[i] = state / 2 ** 31 - 1;
  }
  return rows;
}

function graphModel(
  name: string,
  nodes: MessageInitShape<typeof NodeProtoSchema>[],
  width: number,
  extraInitializers: MessageInitShape<typeof TensorProtoSchema>[] = [],
): Uint8Array {
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'nepse-prediction-testing',
    opsetImport: [{ domain: '', version: 13n }],
    graph: {
      name,
      node: nodes,
      initializer: [
        { name: 'weights', dataType: FLOAT, dims: [BigInt(width), 1n], floatData: testWeights(width) },
        { name: 'bias', dataType: FLOAT, dims: [1n], floatData: [0.01] },
        ...extraInitializers,
      ],
      input: [floatTensorInfo('features', ['N', width])],
      output: [floatTensorInfo('log_return', ['N', 1])],
    },
  });
  return toBinary(ModelProtoSchema, model);
}

/**
 * sqrt(−x)·w + b: finite on zero vectors (√−0 = −0), so the registry's registration check passes,
 * and NaN on any positive feature, as real vectors have.
 */
export function nanOnNonZeroModel(width = TEST_WIDTH): Uint8Array {
  return graphModel(
    'nan-on-non-zero',
    [
      { opType: 'Neg', input: ['features'], output: ['negated'], name: 'neg' },
      { opType: 'Sqrt', input: ['negated'], output: ['root'], name: 'sqrt' },
      { opType: 'MatMul', input: ['root', 'weights'], output: ['xw'], name: 'matmul' },
      { opType: 'Add', input: ['xw', 'bias'], output: ['log_return'], name: 'add' },
    ],
    width,
  );
}

/**
 * x·w + b minus its mean over the batch: each row's answer depends on the other rows of the run,
 * which micro-batching cannot allow (and which a zero-vector check does not see).
 */
export function batchDependentModel(width = TEST_WIDTH): Uint8Array {
  const INTS = AttributeProto_AttributeType.INTS;
  const INT = AttributeProto_AttributeType.INT;
  return graphModel(
    'batch-dependent',
    [
      { opType: 'MatMul', input: ['features', 'weights'], output: ['xw'], name: 'matmul' },
      { opType: 'Add', input: ['xw', 'bias'], output: ['y'], name: 'add' },
      {
        opType: 'ReduceMean',
        input: ['y'],
        output: ['mean'],
        name: 'mean',
        attribute: [
          { name: 'axes', type: INTS, ints: [0n] },
          { name: 'keepdims', type: INT, i: 1n },
        ],
      },
      { opType: 'Sub', input: ['y', 'mean'], output: ['log_return'], name: 'sub' },
    ],
    width,
  );
}
