/**
 * A load client as light as the raw echo's: @grpc/grpc-js with identity (de)serializers, so the
 * bytes of requests are encoded once up front and responses are not decoded on the hot path.
 * Driving a service and the echo server with the same client makes their ratio a comparison of
 * servers; on two shared cores a protobuf-decoding client is otherwise the bottleneck of both.
 */
import type { DescMethod } from '@bufbuild/protobuf';
import { methodPath } from '../lib/grpc/definition.js';
import { grpc, type GrpcJs } from '../lib/grpc/grpc-js.js';

const identity = (bytes: Buffer) => bytes;

/** A raw client: one function per method, under the method's proto name, over one channel. */
export type RawClient = GrpcJs.Client & Record<string, (...args: unknown[]) => unknown>;

/** A raw client of `methods` (of one service) at `address`. */
export function createRawClient(address: string, methods: readonly DescMethod[]): RawClient {
  const definition: Record<string, GrpcJs.MethodDefinition<Buffer, Buffer>> = {};
  for (const method of methods) {
    definition[method.name] = {
      path: methodPath(method),
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
  }
  const Constructor = grpc.makeGenericClientConstructor(definition, 'Raw');
  return new Constructor(address, grpc.credentials.createInsecure()) as unknown as RawClient;
}

/** One unary call of `method` with a deadline (and `metadata`, e.g. credentials); resolves with the response bytes. */
export function rawUnary(
  client: RawClient,
  method: DescMethod,
  request: Buffer,
  deadlineMs: number,
  metadata?: GrpcJs.Metadata,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client[method.name](
      request,
      metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error: GrpcJs.ServiceError | null, response: Buffer) => (error ? reject(error) : resolve(response)),
    ),
  );
}

/** Reads a protobuf varint at `offset`: [value, next offset]. */
function varint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[offset++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, offset];
    shift += 7;
  }
}

/**
 * The numbers of the top-level fields of an encoded message, without decoding it: enough to tell
 * which case of a oneof a response carries. Handles the varint, 64-bit, length-delimited and
 * 32-bit wire types.
 */
export function topLevelFields(bytes: Uint8Array): number[] {
  const fields: number[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const [tag, next] = varint(bytes, offset);
    offset = next;
    fields.push(Math.floor(tag / 8));
    switch (tag & 7) {
      case 0:
        offset = varint(bytes, offset)[1];
        break;
      case 1:
        offset += 8;
        break;
      case 2: {
        const [length, start] = varint(bytes, offset);
        offset = start + length;
        break;
      }
      case 5:
        offset += 4;
        break;
      default:
        throw new Error(`wire type ${tag & 7} at byte ${offset}`);
    }
  }
  return fields;
}
