import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import * as ort from 'onnxruntime-node';
import { ModelProtoSchema } from '../../../gen/onnx/onnx_pb.js';
import { toMatrix, type TrainingExample } from './dataset.js';
import { trainGbrt, type GbrtModel } from './gbrt.js';
import { exportOnnx, INPUT_NAME, ONNX_IR_VERSION, ONNX_ML_OPSET, ONNX_OPSET, OUTPUT_NAME } from './onnx-export.js';
import { trainRidge, type RidgeModel } from './ridge.js';
import { plantedSignalDataset } from './synthetic.js';

const F = 25;
const { dataset } = plantedSignalDataset({
  symbols: 20,
  days: 600,
  features: F,
  seed: 11,
  signal: (z) => 0.004 * z[1] + 0.006 * Math.tanh(3 * z[2]) - 0.003 * z[3] * z[4],
});
const split = Math.floor(dataset.examples.length * 0.8);
const train = toMatrix(dataset.examples.slice(0, split));
const holdout: TrainingExample[] = dataset.examples.slice(split);
const holdoutX = holdout.map((e) => e.features);

/** Runs an exported model in onnxruntime on float32 rows; returns its output tensor. */
async function runOnnx(bytes: Uint8Array, rows: readonly (readonly number[])[], width = F): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes);
  const data = new Float32Array(rows.length * width);
  rows.forEach((row, i) => data.set(row, i * width));
  const output = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', data, [rows.length, width]) });
  return output[OUTPUT_NAME];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function assertContract(bytes: Uint8Array): Promise<void> {
  const session = await ort.InferenceSession.create(bytes);
  assert.deepEqual(session.inputNames, [INPUT_NAME]);
  assert.deepEqual(session.outputNames, [OUTPUT_NAME]);
  const [input] = session.inputMetadata;
  const [output] = session.outputMetadata;
  assert.ok(input.isTensor && output.isTensor);
  assert.equal(input.type, 'float32');
  assert.deepEqual(input.shape, ['N', F]);
  assert.equal(output.type, 'float32');
  assert.deepEqual(output.shape, ['N', 1]);
  // A row of the wrong width is refused by onnxruntime itself, before any arithmetic.
  await assert.rejects(runOnnx(bytes, [new Array(F + 1).fill(0)], F + 1), /invalid dimensions|Expected: 25/i);
}

describe('exportOnnx', () => {
  const ridge: RidgeModel = trainRidge(train.x, train.y);
  const gbrt: GbrtModel = trainGbrt(train.x, train.y, { trees: 120, maxDepth: 4, minSamplesLeaf: 10 });

  it('ridge: MatMul + Add with folded standardisation matches predict() within 1e-5', async () => {
    const bytes = exportOnnx(ridge, { featureCount: F, producer: 'nepse-training', docString: 'ridge test' });
    await assertContract(bytes);
    const output = await runOnnx(bytes, holdoutX);
    assert.deepEqual(output.dims, [holdoutX.length, 1]);
    const gap = maxAbsDiff(output.data as Float32Array, ridge.predict(holdoutX));
    assert.ok(gap < 1e-5, `max |onnx − ts| = ${gap}`);
  });

  it('gbrt: TreeEnsembleRegressor matches predict() within 1e-5', async () => {
    const bytes = exportOnnx(gbrt, { featureCount: F, docString: 'gbrt test' });
    await assertContract(bytes);
    const output = await runOnnx(bytes, holdoutX);
    assert.deepEqual(output.dims, [holdoutX.length, 1]);
    const gap = maxAbsDiff(output.data as Float32Array, gbrt.predict(holdoutX));
    assert.ok(gap < 1e-5, `max |onnx − ts| = ${gap}`);
  });

  it('gbrt: branches like onnxruntime on inputs at and around every threshold (float32 rounding)', async () => {
    const bytes = exportOnnx(gbrt, { featureCount: F });
    // Each row puts every tested feature exactly on, just below or just above a threshold, plus
    // float64 values that only float32 rounding moves onto the threshold.
    const rows: number[][] = [];
    const base = holdoutX[0];
    for (const tree of gbrt.trees.slice(0, 40)) {
      tree.isLeaf.forEach((leaf, k) => {
        if (leaf) return;
        const t = tree.thresholds[k];
        const ulp = Math.abs(t) * 2 ** -23 || 2 ** -149;
        for (const v of [t, t + ulp, t - ulp, t + ulp / 4, t - ulp / 4, t + 0.49 * ulp, t - 0.49 * ulp]) {
          const row = base.slice();
          row[tree.featureIds[k]] = v;
          rows.push(row);
        }
      });
    }
    const output = await runOnnx(bytes, rows);
    const gap = maxAbsDiff(output.data as Float32Array, gbrt.predict(rows));
    assert.ok(gap < 1e-6, `max |onnx − ts| = ${gap} on threshold-boundary rows`);
  });

  it('writes the versions, producer and metadata; refuses a mismatched feature count', () => {
    const bytes = exportOnnx(gbrt, {
      featureCount: F,
      producer: 'nepse-training',
      docString: 'doc',
      featureNames: dataset.featureNames,
      metadata: { feature_set: 'ohlcv', feature_set_version: '1' },
    });
    const model = fromBinary(ModelProtoSchema, bytes);
    assert.equal(Number(model.irVersion), ONNX_IR_VERSION);
    assert.deepEqual(
      model.opsetImport.map((o) => [o.domain, Number(o.version)]),
      [
        ['', ONNX_OPSET],
        ['ai.onnx.ml', ONNX_ML_OPSET],
      ],
    );
    assert.equal(model.producerName, 'nepse-training');
    assert.equal(model.docString, 'doc');
    const props = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    assert.equal(props.feature_set, 'ohlcv');
    assert.equal(props.model_kind, 'gbrt');
    assert.match(props.target, /log return/);
    assert.deepEqual(JSON.parse(props.feature_names), dataset.featureNames);
    assert.throws(() => exportOnnx(ridge, { featureCount: F - 1 }), /does not match/);
  });

  it('exports an ensemble without trees as its base value', async () => {
    const empty = trainGbrt(train.x, train.y, { trees: 0 });
    const output = await runOnnx(exportOnnx(empty, { featureCount: F }), holdoutX.slice(0, 3));
    assert.ok(maxAbsDiff(output.data as Float32Array, empty.predict(holdoutX.slice(0, 3))) < 1e-9);
  });
});
