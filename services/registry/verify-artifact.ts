import { InferenceSession, Tensor } from 'onnxruntime-node';
import { TensorDataType, type TensorSpec } from '../../gen/nepse/registry/v1/registry_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';

/** What an artifact must agree with. */
export interface ArtifactExpectation {
  /** Declared input tensor (name, type, [batch, width]). */
  input: TensorSpec;
  /** Declared output tensor (name, type, one value per row). */
  output: TensorSpec;
  /** The feature set's length: the input width the model must take. */
  width: number;
  /** The feature set, for messages (`ohlcv_v1`). */
  featureSet: string;
}

const ORT_TYPE: Partial<Record<TensorDataType, 'float32' | 'float64'>> = {
  [TensorDataType.FP32]: 'float32',
  [TensorDataType.FP64]: 'float64',
};

/** Messages from ONNX Runtime can be long; a registration error carries the gist. */
const gist = (error: unknown) =>
  String((error as Error)?.message ?? error)
    .replace(/\s+/g, ' ')
    .slice(0, 300);

const refuse = (field: string, description: string) => new InvalidArgumentError({ field, description });

/**
 * Proves an artifact can be served before the registry keeps it: it loads in ONNX Runtime, takes
 * exactly the declared input (type and a width equal to the feature set's length), has the
 * declared output, and a smoke inference on zero vectors returns one finite value per row (a
 * batch of 1, and of 2 when the batch is declared dynamic, as prediction batches are).
 *
 * @throws InvalidArgumentError naming `chunk` (the artifact itself) or the registration field
 *   that disagrees with it, with a message saying what is wrong.
 */
export async function verifyArtifact(bytes: Uint8Array, expect: ArtifactExpectation): Promise<void> {
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(bytes, { graphOptimizationLevel: 'basic', intraOpNumThreads: 1 });
  } catch (error) {
    throw refuse('chunk', `the artifact is not a model ONNX Runtime can load: ${gist(error)}`);
  }
  try {
    const inputName = expect.input.name;
    const outputName = expect.output.name;
    if (session.inputNames.length !== 1) {
      throw refuse(
        'chunk',
        `the model must take exactly one input (the feature vectors), it takes ${session.inputNames.length}: ${session.inputNames.join(', ')}`,
      );
    }
    if (session.inputNames[0] !== inputName) {
      throw refuse(
        'registration.input.name',
        `the model's input is named ${JSON.stringify(session.inputNames[0])}, not ${JSON.stringify(inputName)}`,
      );
    }
    if (!session.outputNames.includes(outputName)) {
      throw refuse(
        'registration.output.name',
        `the model has no output named ${JSON.stringify(outputName)} (its outputs: ${session.outputNames.join(', ')})`,
      );
    }
    const type = ORT_TYPE[expect.input.dataType]!;
    const meta = session.inputMetadata?.[0];
    if (meta?.isTensor) {
      if (meta.type !== type)
        throw refuse(
          'registration.input.data_type',
          `the model's input ${JSON.stringify(inputName)} is ${meta.type}, the registration says ${type}`,
        );
      const width = meta.shape.length === 2 ? meta.shape[1] : undefined;
      if (meta.shape.length !== 2) {
        throw refuse(
          'chunk',
          `the model's input ${JSON.stringify(inputName)} has shape [${meta.shape.join(', ')}]; it must be [batch, ${expect.width}]`,
        );
      }
      if (typeof width === 'number' && width !== expect.width) {
        throw refuse(
          'chunk',
          `the model's input ${JSON.stringify(inputName)} is ${width} features wide, but feature set ${expect.featureSet} has ${expect.width} features`,
        );
      }
    }
    const batches = Number(expect.input.shape[0]) === -1 ? [1, 2] : [Number(expect.input.shape[0])];
    for (const rows of batches) {
      const zeros = type === 'float32' ? new Float32Array(rows * expect.width) : new Float64Array(rows * expect.width);
      let result: InferenceSession.OnnxValueMapType;
      try {
        result = await session.run({ [inputName]: new Tensor(type, zeros, [rows, expect.width]) }, [outputName]);
      } catch (error) {
        throw refuse(
          'chunk',
          `the model fails a smoke inference on ${rows} zero vector(s) of ${expect.width} features (feature set ${expect.featureSet}): ${gist(error)}`,
        );
      }
      const out = result[outputName] as Tensor;
      const outputType = ORT_TYPE[expect.output.dataType];
      if (out.type !== outputType)
        throw refuse(
          'registration.output.data_type',
          `the model's output ${JSON.stringify(outputName)} is ${out.type}, the registration says ${outputType}`,
        );
      const values = out.data as ArrayLike<number>;
      if (values.length !== rows) {
        throw refuse(
          'registration.output.shape',
          `the model answers ${values.length} value(s) of shape [${out.dims.join(', ')}] for ${rows} row(s); it must answer one value per row`,
        );
      }
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(Number(values[i])))
          throw refuse('chunk', `the model answers ${values[i]} for a zero vector; predictions must be finite`);
      }
    }
  } finally {
    await session.release().catch(() => {});
  }
}
