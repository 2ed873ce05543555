import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GRPCInferenceService } from '../../gen/inference/grpc_service_pb.js';
import { createGrpcClient, createGrpcServer, statusDetails, type GrpcServer, type ServiceClient } from '../../lib/grpc/index.js';
import { inferenceHandlers, PLATFORM, SERVER_NAME } from './inference-protocol.js';
import { bytesOf } from './inference-tensors.js';
import { expectedLinear, openLinear, testRows, TEST_WIDTH } from '../../testing/inference-models.js';
import { infer, ModelCache } from './model-cache.js';

/** The parts of a ModelInferRequest these tests vary, as a plain init object. */
interface InputInit {
  name: string;
  datatype: string;
  shape: bigint[];
  contents?: { fp32Contents?: number[]; intContents?: number[] };
}
interface InferRequest {
  modelName?: string;
  modelVersion?: string;
  id?: string;
  inputs?: InputInit[];
  outputs?: { name: string }[];
  rawInputContents?: Uint8Array[];
}

/** The status code and the first violated field (or resource type) of a failed call. */
async function failure(call: Promise<unknown>): Promise<{ code: number | undefined; field: string | undefined; message: string }> {
  try {
    await call;
  } catch (error) {
    const details = statusDetails(error);
    return {
      code: details?.code,
      field: details?.fieldViolations[0]?.field ?? details?.resource?.type,
      message: details?.message ?? String(error),
    };
  }
  assert.fail('the call succeeded');
}

const floats = (bytes: Uint8Array) => {
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer);
};

/** A typed (fp32_contents) request for `rows` of width F. */
const typed = (rows: ArrayLike<number>, extra: Partial<InferRequest> = {}, width = TEST_WIDTH): InferRequest => ({
  modelName: 'alpha',
  id: 'typed-1',
  inputs: [
    {
      name: 'features',
      datatype: 'FP32',
      shape: [BigInt(rows.length / width), BigInt(width)],
      contents: { fp32Contents: Array.from(rows) },
    },
  ],
  ...extra,
});

/** The same request with raw little-endian bytes. */
const raw = (rows: Float32Array, extra: Partial<InferRequest> = {}): InferRequest => ({
  modelName: 'alpha',
  id: 'raw-1',
  inputs: [{ name: 'features', datatype: 'FP32', shape: [BigInt(rows.length / TEST_WIDTH), BigInt(TEST_WIDTH)] }],
  rawInputContents: [bytesOf(rows)],
  ...extra,
});

describe('inference.GRPCInferenceService', () => {
  const cache = new ModelCache({ releaseGraceMs: 0 });
  let server: GrpcServer;
  let client: ServiceClient<typeof GRPCInferenceService>;

  before(async () => {
    cache.activate(await openLinear('alpha', 1, 0.1));
    cache.activate(await openLinear('alpha', 2, 0.2));
    cache.activate(await openLinear('beta', 4, -0.5));
    server = createGrpcServer({ services: [inferenceHandlers(cache, { serverVersion: '9.9.9', maxRows: 100 })] });
    const port = await server.listen(0, '127.0.0.1');
    server.setServing(true);
    client = createGrpcClient(GRPCInferenceService, `127.0.0.1:${port}`);
  });
  after(async () => {
    client?.close();
    await server?.stop(1_000);
    await cache.close();
  });

  it('answers liveness, readiness, server metadata and model metadata', async () => {
    assert.equal((await client.serverLive({})).live, true);
    assert.equal((await client.serverReady({})).ready, false, 'not ready before the loading at start finished');
    cache.markReady();
    assert.equal((await client.serverReady({})).ready, true);
    const server = await client.serverMetadata({});
    assert.deepEqual([server.name, server.version, server.extensions], [SERVER_NAME, '9.9.9', []]);

    const ready = async (name: string, version = '') => (await client.modelReady({ name, version })).ready;
    assert.deepEqual(
      [await ready('alpha'), await ready('alpha', '1'), await ready('alpha', '2'), await ready('alpha', '3'), await ready('nope')],
      [true, true, true, false, false],
    );
    assert.deepEqual(await failure(client.modelReady({ name: 'alpha', version: 'v2' })), {
      code: 3,
      field: 'version',
      message: 'version: must be a version number such as "3", or empty for the Production version; got "v2"',
    });

    const meta = await client.modelMetadata({ name: 'alpha' });
    assert.deepEqual(
      [
        meta.name,
        meta.versions,
        meta.platform,
        meta.inputs.map((t) => [t.name, t.datatype, t.shape]),
        meta.outputs.map((t) => [t.name, t.datatype, t.shape]),
      ],
      ['alpha', ['2', '1'], PLATFORM, [['features', 'FP32', [-1n, 25n]]], [['log_return', 'FP32', [-1n, 1n]]]],
    );
    assert.equal((await client.modelMetadata({ name: 'beta', version: '4' })).versions[0], '4');
    assert.deepEqual(await failure(client.modelMetadata({ name: 'gamma' })), {
      code: 5,
      field: 'model',
      message: 'model "gamma" is not served (no Production version loaded)',
    });
    assert.deepEqual((await failure(client.modelMetadata({ name: 'alpha', version: '7' }))).field, 'model version');
    assert.deepEqual((await failure(client.modelMetadata({ name: '' }))).field, 'name');
  });

  it('gives the same numbers for raw_input_contents, fp32_contents and infer(), echoing the request id', async () => {
    const rows = testRows(5, 42);
    const direct = await infer(cache.current('alpha')!, rows, 5);
    const viaTyped = await client.modelInfer(typed(rows));
    const viaRaw = await client.modelInfer(raw(rows));

    assert.deepEqual([viaTyped.modelName, viaTyped.modelVersion, viaTyped.id], ['alpha', '2', 'typed-1']);
    assert.deepEqual([viaRaw.modelName, viaRaw.modelVersion, viaRaw.id], ['alpha', '2', 'raw-1']);
    const [typedOut, rawOut] = [viaTyped.outputs[0], viaRaw.outputs[0]];
    assert.deepEqual([typedOut.name, typedOut.datatype, typedOut.shape], ['log_return', 'FP32', [5n, 1n]]);
    assert.deepEqual([rawOut.name, rawOut.datatype, rawOut.shape, rawOut.contents], ['log_return', 'FP32', [5n, 1n], undefined]);
    assert.equal(viaTyped.rawOutputContents.length, 0, 'typed in, typed out');
    assert.equal(viaRaw.rawOutputContents.length, 1, 'raw in, raw out, as Triton answers');
    assert.deepEqual(Float32Array.from(typedOut.contents!.fp32Contents), direct);
    assert.deepEqual(floats(viaRaw.rawOutputContents[0]), direct);
    expectedLinear(rows, 0.2).forEach((value, i) => assert.ok(Math.abs(direct[i] - value) < 1e-5));

    // A pinned version answers from that version; the output may be asked for by name.
    const pinned = await client.modelInfer(raw(rows, { modelVersion: '1', outputs: [{ name: 'log_return' }] }));
    assert.equal(pinned.modelVersion, '1');
    floats(pinned.rawOutputContents[0]).forEach((value, i) => assert.ok(Math.abs(value - expectedLinear(rows, 0.1)[i]) < 1e-5));
  });

  it('refuses bad input with the right status, naming the field', async () => {
    const rows = testRows(2, 3);
    const nan = Float32Array.from(rows);
    nan[TEST_WIDTH + 7] = NaN;
    const inf = Float32Array.from(rows);
    inf[3] = Infinity;
    const cases: [string, InferRequest, number, string][] = [
      ['too narrow', typed(testRows(2, 3, 24), {}, 24), 3, 'inputs[0].shape'],
      ['one dimension', { ...typed(rows), inputs: [{ ...typed(rows).inputs![0], shape: [50n] }] }, 3, 'inputs[0].shape'],
      ['too many rows', typed(testRows(101, 3)), 3, 'inputs[0].shape'],
      [
        'values short of the shape',
        { ...typed(rows), inputs: [{ ...typed(rows).inputs![0], contents: { fp32Contents: Array.from(rows).slice(1) } }] },
        3,
        'inputs[0].contents.fp32_contents',
      ],
      ['NaN', typed(nan), 3, 'inputs[0].contents.fp32_contents'],
      ['Infinity in raw bytes', raw(inf), 3, 'raw_input_contents[0]'],
      ['raw bytes short of the shape', { ...raw(rows), rawInputContents: [bytesOf(rows).subarray(4)] }, 3, 'raw_input_contents[0]'],
      ['raw and typed at once', { ...raw(rows), inputs: typed(rows).inputs }, 3, 'inputs[0].contents'],
      ['FP64', { ...raw(rows), inputs: [{ ...raw(rows).inputs![0], datatype: 'FP64' }] }, 3, 'inputs[0].datatype'],
      [
        'int contents',
        { ...typed(rows), inputs: [{ ...typed(rows).inputs![0], contents: { intContents: [1] } }] },
        3,
        'inputs[0].contents.int_contents',
      ],
      ['wrong input name', { ...raw(rows), inputs: [{ ...raw(rows).inputs![0], name: 'x' }] }, 3, 'inputs[0].name'],
      ['no input', { modelName: 'alpha' }, 3, 'inputs'],
      ['unknown output', raw(rows, { outputs: [{ name: 'close' }] }), 3, 'outputs[0].name'],
      ['version not a number', raw(rows, { modelVersion: 'latest' }), 3, 'model_version'],
      ['no model name', raw(rows, { modelName: '' }), 3, 'model_name'],
      ['unknown model', raw(rows, { modelName: 'nope' }), 5, 'model'],
      ['unknown version', raw(rows, { modelVersion: '9' }), 5, 'model version'],
    ];
    for (const [what, request, code, field] of cases) {
      const f = await failure(client.modelInfer(request));
      assert.deepEqual([f.code, f.field], [code, field], `${what}: ${f.message}`);
    }
    assert.equal(
      (await failure(client.modelInfer(typed(nan)))).message,
      'inputs[0].contents.fp32_contents: input "features" holds NaN at row 1, column 7; features must be finite',
    );
    assert.match((await failure(client.modelInfer(raw(inf)))).message, /input "features" holds Infinity at row 0, column 3/);
  });

  it('ModelStreamInfer answers every request in order; a bad one gets its error_message and the stream goes on', async () => {
    const rows = testRows(3, 9);
    const wrongShape = typed(testRows(1, 9, 24), { id: 'bad-shape' }, 24);
    const requests: InferRequest[] = [
      typed(rows, { id: 'first' }),
      wrongShape,
      raw(rows, { id: 'unknown-model', modelName: 'nope' }),
      raw(rows, { id: 'last', modelName: 'beta' }),
    ];
    const responses = await Array.fromAsync(client.modelStreamInfer(requests));
    assert.deepEqual(
      responses.map((r) => [r.inferResponse?.id, r.errorMessage.split(':')[0]]),
      [
        ['first', ''],
        ['bad-shape', 'INVALID_ARGUMENT'],
        ['unknown-model', 'NOT_FOUND'],
        ['last', ''],
      ],
    );
    assert.match(responses[1].errorMessage, /^INVALID_ARGUMENT: inputs\[0\]\.shape: must be \[N, 25\]/);
    assert.equal(responses[2].errorMessage, 'NOT_FOUND: model "nope" is not served (no Production version loaded)');
    assert.deepEqual(
      Float32Array.from(responses[0].inferResponse!.outputs[0].contents!.fp32Contents),
      await infer(cache.current('alpha')!, rows, 3),
    );
    assert.deepEqual([responses[3].inferResponse?.modelName, responses[3].inferResponse?.modelVersion], ['beta', '4']);
    assert.deepEqual(floats(responses[3].inferResponse!.rawOutputContents[0]), await infer(cache.current('beta')!, rows, 3));
  });
});
