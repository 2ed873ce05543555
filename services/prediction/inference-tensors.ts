/**
 * Open Inference Protocol tensors ⇄ the float32 rows a model takes: validation of a ModelInfer
 * request's input (typed `fp32_contents` or little-endian `raw_input_contents`) and the response's
 * output in the same form the request used.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { endianness } from 'node:os';
import { ModelInferResponseSchema, type ModelInferRequest } from '../../gen/inference/grpc_service_pb.js';
import { InvalidArgumentError } from '../../lib/grpc/index.js';
import type { LoadedModel } from './inference-session.js';

/** The only datatype served: the models take float32 features. */
export const FP32 = 'FP32';

const LITTLE_ENDIAN = endianness() === 'LE';

/** A request's input as model rows. */
export interface DecodedInput {
  /** count × inputWidth values, row-major. */
  rows: Float32Array;
  /** N, the batch size. */
  count: number;
  /** Whether the request sent raw bytes (then the response does too, as Triton answers). */
  raw: boolean;
}

const invalid = (field: string, description: string) => new InvalidArgumentError({ field, description });

/** The typed lists other than fp32_contents that a client may have filled by mistake, with their proto names. */
const OTHER_LISTS = {
  boolContents: 'bool_contents',
  intContents: 'int_contents',
  int64Contents: 'int64_contents',
  uintContents: 'uint_contents',
  uint64Contents: 'uint64_contents',
  fp64Contents: 'fp64_contents',
  bytesContents: 'bytes_contents',
} as const;

/** Little-endian float32 bytes as a fresh Float32Array (a copy: gRPC buffers are rarely 4-byte aligned). */
function floatsOf(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  }
  return out;
}

/** Float32 values as little-endian bytes. */
export function bytesOf(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/**
 * Validates the one input tensor of `request` against `model` and returns its rows.
 * @throws InvalidArgumentError naming the offending field (`inputs[0].shape`, `raw_input_contents[0]`, …).
 */
export function decodeInput(request: ModelInferRequest, model: LoadedModel, maxRows: number): DecodedInput {
  const width = model.inputWidth;
  if (request.inputs.length !== 1)
    throw invalid(
      'inputs',
      `the model takes exactly one input, ${JSON.stringify(model.inputName)} of shape [N, ${width}]; got ${request.inputs.length}`,
    );
  const input = request.inputs[0];
  if (input.name !== model.inputName)
    throw invalid('inputs[0].name', `the model's input is ${JSON.stringify(model.inputName)}, got ${JSON.stringify(input.name)}`);
  if (input.datatype !== FP32) throw invalid('inputs[0].datatype', `must be ${FP32}, got ${JSON.stringify(input.datatype)}`);
  const [n, f] = input.shape;
  if (input.shape.length !== 2 || f !== BigInt(width) || n < 1n || n > BigInt(maxRows)) {
    throw invalid('inputs[0].shape', `must be [N, ${width}] with 1 ≤ N ≤ ${maxRows}, got [${input.shape.join(', ')}]`);
  }
  const count = Number(n);
  const expected = count * width;
  const raw = request.rawInputContents.length > 0;
  let rows: Float32Array;
  let field: string;
  if (raw) {
    if (request.rawInputContents.length !== 1)
      throw invalid('raw_input_contents', `has ${request.rawInputContents.length} entries for 1 input`);
    if (input.contents) throw invalid('inputs[0].contents', 'must be unset when raw_input_contents is used');
    field = 'raw_input_contents[0]';
    const bytes = request.rawInputContents[0];
    if (bytes.byteLength !== expected * 4)
      throw invalid(field, `has ${bytes.byteLength} bytes; shape [${count}, ${width}] of ${FP32} takes ${expected * 4}`);
    rows = floatsOf(bytes);
  } else {
    const contents = input.contents;
    const other = contents && (Object.keys(OTHER_LISTS) as (keyof typeof OTHER_LISTS)[]).find((list) => contents[list].length > 0);
    if (other) throw invalid(`inputs[0].contents.${OTHER_LISTS[other]}`, `${FP32} values go in fp32_contents`);
    field = 'inputs[0].contents.fp32_contents';
    const values = contents?.fp32Contents ?? [];
    if (values.length !== expected) throw invalid(field, `has ${values.length} values; shape [${count}, ${width}] takes ${expected}`);
    rows = Float32Array.from(values);
  }
  for (let i = 0; i < rows.length; i++) {
    if (!Number.isFinite(rows[i])) {
      throw invalid(
        field,
        `input ${JSON.stringify(input.name)} holds ${rows[i]} at row ${Math.floor(i / width)}, column ${i % width}; features must be finite`,
      );
    }
  }
  return { rows, count, raw };
}

/** The ModelInfer response for `outputs` (one value per row) in the request's form, with its id. */
export function encodeResponse(
  request: ModelInferRequest,
  model: LoadedModel,
  outputs: Float32Array,
  raw: boolean,
): MessageInitShape<typeof ModelInferResponseSchema> {
  const tensor = { name: model.outputName, datatype: FP32, shape: [BigInt(outputs.length), 1n] };
  return create(ModelInferResponseSchema, {
    modelName: model.name,
    modelVersion: String(model.version),
    id: request.id,
    outputs: [raw ? tensor : { ...tensor, contents: { fp32Contents: Array.from(outputs) } }],
    rawOutputContents: raw ? [bytesOf(outputs)] : [],
  });
}

/** Checks the outputs a request asks for: none (all) or the model's one output. */
export function checkRequestedOutputs(request: ModelInferRequest, model: LoadedModel): void {
  request.outputs.forEach((output, i) => {
    if (output.name !== model.outputName)
      throw invalid(
        `outputs[${i}].name`,
        `the model has no output ${JSON.stringify(output.name)}; its output is ${JSON.stringify(model.outputName)}`,
      );
  });
}
