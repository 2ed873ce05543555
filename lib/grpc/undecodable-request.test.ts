/**
 * Request bytes that are not the method's message, sent by a raw grpc-js client to a real server:
 * every method of every service in gen/ answers INVALID_ARGUMENT naming the expected message (not
 * INTERNAL, which says the server is at fault), and the handler never sees the bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { GRPCInferenceService } from '../../gen/inference/grpc_service_pb.js';
import { FeatureService } from '../../gen/nepse/feature/v1/feature_pb.js';
import { IngestionService } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import { MonitoringService } from '../../gen/nepse/monitoring/v1/monitoring_pb.js';
import { PredictionService } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { RegistryService } from '../../gen/nepse/registry/v1/registry_pb.js';
import { TrainingService } from '../../gen/nepse/training/v1/training_pb.js';
import { methodPath } from './definition.js';
import {
  createGrpcServer,
  grpc,
  implement,
  statusDetails,
  type CallRecord,
  type GrpcJs,
  type GrpcServer,
  type ServiceImplementation,
} from './index.js';

const SERVICES: DescService[] = [
  IngestionService,
  FeatureService,
  TrainingService,
  RegistryService,
  PredictionService,
  MonitoringService,
  GRPCInferenceService,
];

/** Bytes no protobuf message decodes from: an illegal wire type, an endless varint, a short field. */
const GARBAGE = ['0fffff', 'ffffffffffffffffffffff', '0a10616263'].map((hex) => Buffer.from(hex, 'hex'));

/** Request messages each handler was given (by method path): none may arrive. */
const delivered = new Map<string, unknown[]>();

/** A handler of any kind that records what it receives and answers nothing of substance. */
function recordingHandler(method: DescMethod): (...args: never[]) => unknown {
  const path = methodPath(method);
  const note = (message: unknown) => delivered.set(path, [...(delivered.get(path) ?? []), message]);
  const drain = async (requests: AsyncIterable<unknown>) => {
    for await (const message of requests) note(message);
  };
  switch (method.methodKind) {
    case 'unary':
      return ((request: unknown) => (note(request), {})) as never;
    case 'server_streaming':
      return async function* (request: unknown) {
        note(request);
      } as never;
    case 'client_streaming':
      return (async (requests: AsyncIterable<unknown>) => (await drain(requests), {})) as never;
    case 'bidi_streaming':
      return async function* (requests: AsyncIterable<unknown>) {
        await drain(requests);
      } as never;
  }
}

const implementationOf = (service: DescService): ServiceImplementation => ({
  service,
  handlers: Object.fromEntries(service.methods.map((method) => [method.localName, recordingHandler(method)])),
});

/** The status of one call made with raw bytes, whatever its kind; bounded by a 5 s deadline. */
function rawCall(client: GrpcJs.Client, method: DescMethod, messages: Buffer[]): Promise<GrpcJs.StatusObject> {
  const path = methodPath(method);
  const identity = (bytes: Buffer) => bytes;
  const options = { deadline: Date.now() + 5_000 };
  return new Promise((resolve) => {
    let call: GrpcJs.Call;
    const ignore = () => {};
    switch (method.methodKind) {
      case 'unary':
        call = client.makeUnaryRequest(path, identity, identity, messages[0], new grpc.Metadata(), options, ignore);
        break;
      case 'server_streaming':
        call = client.makeServerStreamRequest(path, identity, identity, messages[0], new grpc.Metadata(), options);
        break;
      case 'client_streaming':
        call = client.makeClientStreamRequest(path, identity, identity, new grpc.Metadata(), options, ignore);
        break;
      case 'bidi_streaming':
        call = client.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), options);
        break;
    }
    call.on('status', resolve);
    const events = call as unknown as NodeJS.EventEmitter;
    events.on('error', ignore);
    if (method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming') events.on('data', ignore);
    if (method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming') {
      const writable = call as GrpcJs.ClientWritableStream<Buffer>;
      for (const message of messages) writable.write(message);
      writable.end();
    }
  });
}

describe('requests that do not decode', { timeout: 30_000 }, () => {
  let server: GrpcServer;
  let client: GrpcJs.Client;
  const records: CallRecord[] = [];

  before(async () => {
    server = createGrpcServer({ services: SERVICES.map(implementationOf), observer: (record) => records.push(record) });
    const port = await server.listen(0, '127.0.0.1');
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await server?.stop(1_000);
  });

  for (const service of SERVICES) {
    for (const method of service.methods) {
      const streamed = method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming';
      it(`${service.name}/${method.name} (${method.methodKind}) answers INVALID_ARGUMENT naming ${method.input.typeName}`, async () => {
        for (const garbage of GARBAGE) {
          records.length = 0;
          const status = await rawCall(client, method, [garbage]);
          assert.equal(status.code, grpc.status.INVALID_ARGUMENT, `${garbage.toString('hex')}: ${status.details}`);
          assert.equal(status.details, `${streamed ? 'request 0 of the stream' : 'request'} is not a valid ${method.input.typeName}`);
          const details = statusDetails(Object.assign(new Error(status.details), status));
          assert.equal(details?.reason, 'INVALID_ARGUMENT');
          assert.equal(details?.fieldViolations.length, 1);
          assert.equal(details?.fieldViolations[0].field, streamed ? 'requests[0]' : 'request');
          assert.match(
            details?.fieldViolations[0].description ?? '',
            new RegExp(`^not a valid ${method.input.typeName.replaceAll('.', '\\.')}: `),
          );
          assert.equal(delivered.get(methodPath(method)), undefined, 'the handler saw no message');
          // Metrics count it as the client's fault too.
          assert.deepEqual(
            records.map((r) => [r.method, r.code]),
            [[method.name, grpc.status.INVALID_ARGUMENT]],
          );
        }
      });
    }
  }

  it('a stream answers INVALID_ARGUMENT naming the bad message after good ones, which the handler got', async () => {
    const ingestBars = IngestionService.method.ingestBars;
    const streamInfer = GRPCInferenceService.method.modelStreamInfer;
    delivered.clear();
    for (const method of [ingestBars, streamInfer]) {
      const status = await rawCall(client, method, [Buffer.alloc(0), Buffer.alloc(0), GARBAGE[0], Buffer.alloc(0)]);
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(status.details, `request 2 of the stream is not a valid ${method.input.typeName}`);
      assert.equal(statusDetails(Object.assign(new Error(status.details), status))?.fieldViolations[0].field, 'requests[2]');
      assert.equal(delivered.get(methodPath(method))?.length, 2, 'the two messages before it were delivered, none after');
    }
  });

  it('a handler that swallows the failure still ends the call with INVALID_ARGUMENT', async () => {
    const forgiving = createGrpcServer({
      services: [
        implement(IngestionService, {
          listSymbols: () => ({}),
          async *getBars() {},
          async ingestBars(requests) {
            try {
              for await (const _ of requests);
            } catch {
              // a handler that answers anyway must not turn a refused stream into OK
            }
            return {};
          },
          importCsv: async () => ({}),
        }),
      ],
    });
    const port = await forgiving.listen(0, '127.0.0.1');
    const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const status = await rawCall(raw, IngestionService.method.ingestBars, [GARBAGE[1]]);
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    } finally {
      raw.close();
      await forgiving.stop(1_000);
    }
  });
});
