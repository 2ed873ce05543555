/**
 * Models for tests of anything that registers or serves them: tiny ONNX models built with the
 * ONNX IR messages of proto/onnx (protobuf-es), and the message stream of a RegisterModel call.
 */
import { createHash } from 'node:crypto';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  ArtifactFormat,
  TargetKind,
  TensorDataType,
  type ModelRegistrationSchema,
  type RegisterModelRequestSchema,
} from '../gen/nepse/registry/v1/registry_pb.js';
import { ModelProtoSchema, TensorProto_DataType, type ValueInfoProtoSchema } from '../gen/onnx/onnx_pb.js';

/**
 * A float32 tensor's value info for an ONNX graph: a number is a fixed dimension, a string a
 * symbolic one (the batch).
 */
export function floatTensorInfo(name: string, dims: ReadonlyArray<number | string>): MessageInitShape<typeof ValueInfoProtoSchema> {
  const dim = dims.map((d) => ({
    value: typeof d === 'number' ? { case: 'dimValue' as const, value: BigInt(d) } : { case: 'dimParam' as const, value: d },
  }));
  return { name, type: { value: { case: 'tensorType', value: { elemType: TensorProto_DataType.FLOAT, shape: { dim } } } } };
}

/** Options of {@link linearModel}. */
export interface LinearModelOptions {
  /** Input width F (features per row). */
  width: number;
  /** F weights; default 0.001 · (i + 1). */
  weights?: readonly number[];
  /** Added to every prediction; default 0. */
  bias?: number;
  /** Input tensor name; default `features`. */
  inputName?: string;
  /** Output tensor name; default `log_return`. */
  outputName?: string;
  /** Batch dimension: a symbolic name (dynamic, default `N`) or a fixed size. */
  batch?: string | number;
  /** Characters of documentation added to the model, to make a larger artifact that runs the same. */
  padding?: number;
}

/**
 * A linear model as ONNX bytes: input float32 [N, F], MatMul with weights [F, 1], Add of a bias
 * [1], output float32 [N, 1] — the shape the mesh's next-day log-return models have.
 */
export function linearModel(options: LinearModelOptions): Uint8Array {
  const { width } = options;
  const weights = options.weights ?? Array.from({ length: width }, (_, i) => 0.001 * (i + 1));
  if (weights.length !== width) throw new Error(`linearModel: ${weights.length} weights for width ${width}`);
  const inputName = options.inputName ?? 'features';
  const outputName = options.outputName ?? 'log_return';
  const batch = options.batch ?? 'N';
  const FLOAT = TensorProto_DataType.FLOAT;
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'nepse-registry-testing',
    docString: options.padding ? 'x'.repeat(options.padding) : undefined,
    opsetImport: [{ domain: '', version: 13n }],
    graph: {
      name: 'linear',
      node: [
        { opType: 'MatMul', input: [inputName, 'weights'], output: ['xw'], name: 'matmul' },
        { opType: 'Add', input: ['xw', 'bias'], output: [outputName], name: 'add' },
      ],
      initializer: [
        { name: 'weights', dataType: FLOAT, dims: [BigInt(width), 1n], floatData: [...weights] },
        { name: 'bias', dataType: FLOAT, dims: [1n], floatData: [options.bias ?? 0] },
      ],
      input: [floatTensorInfo(inputName, [batch, width])],
      output: [floatTensorInfo(outputName, [batch, 1])],
    },
  });
  return toBinary(ModelProtoSchema, model);
}

/** Hex sha256 of bytes, as the registry addresses artifacts. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A registration init for a next-day log-return model on `featureSet` of `width` features. */
export function registrationFor(
  name: string,
  width: number,
  overrides: Partial<MessageInitShape<typeof ModelRegistrationSchema>> = {},
  featureSet = { name: 'ohlcv', version: 1 },
): MessageInitShape<typeof ModelRegistrationSchema> {
  const registration: MessageInitShape<typeof ModelRegistrationSchema> = {
    name,
    description: 'test model',
    featureSet,
    input: { name: 'features', dataType: TensorDataType.FP32, shape: [-1n, BigInt(width)] },
    output: { name: 'log_return', dataType: TensorDataType.FP32, shape: [-1n, 1n] },
    target: { kind: TargetKind.LOG_RETURN, horizonSessions: 1, description: 'ln(close[t+1] / close[t])' },
    artifactFormat: ArtifactFormat.ONNX,
    registeredBy: 'test',
  };
  return { ...registration, ...overrides } as MessageInitShape<typeof ModelRegistrationSchema>;
}

/**
 * The messages of one RegisterModel call: the registration, then the artifact in chunks (64 KiB
 * by default; the registry takes up to 1 MiB each). A fresh generator per call, so a retried call
 * sends everything again.
 */
export function* registerRequests(
  registration: MessageInitShape<typeof ModelRegistrationSchema>,
  artifact: Uint8Array,
  chunkBytes = 64 * 1024,
): Generator<MessageInitShape<typeof RegisterModelRequestSchema>> {
  yield { content: { case: 'registration', value: registration } };
  for (let at = 0; at < artifact.byteLength; at += chunkBytes)
    yield { content: { case: 'chunk', value: artifact.subarray(at, at + chunkBytes) } };
}
