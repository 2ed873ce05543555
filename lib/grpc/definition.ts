import {
  create,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageShape,
} from '@bufbuild/protobuf';
import type { GrpcJs } from './grpc-js.js';

/** The gRPC path of a method: `/<package>.<Service>/<Method>`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

const ENCODED = Symbol('nepse.grpc.encoded');

/** A message encoded once, answered many times as the same bytes (see {@link encodeOnce}). */
export interface Encoded<T> {
  readonly [ENCODED]: Buffer;
  readonly message: T;
}

/**
 * Encodes a response message once so a handler can return the same bytes on every call: for
 * answers held ready in memory (the feature service's latest vectors), where encoding would be
 * most of the work. The message must not be changed afterwards.
 */
export function encodeOnce<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Encoded<MessageShape<Desc>> {
  return { [ENCODED]: serializer(schema)(message), message };
}

/** Encodes a message, or a message init object, as a Buffer without copying the bytes. */
export function serializer(schema: DescMessage): (value: unknown) => Buffer {
  return (value) => {
    if (typeof value === 'object' && value !== null && ENCODED in value) return (value as Encoded<unknown>)[ENCODED];
    const message = isMessage(value, schema) ? value : create(schema, value as never);
    const encode = RESPONSE_ENCODERS.get(schema.typeName);
    const bytes = encode ? encode(message) : toBinary(schema, message);
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

const RESPONSE_ENCODERS = new Map<string, (message: unknown) => Uint8Array>();

/**
 * Installs a hand-written encoder for one message type, used whenever this process sends a
 * message of that type over gRPC. For small answers served many thousand times a second (Predict)
 * where protobuf-es's reflective encoding is a visible share of a call's work. The encoder must
 * give the bytes toBinary would give; it may itself fall back to toBinary for shapes it does not
 * handle. Install before the server starts.
 */
export function useMessageEncoder<Desc extends DescMessage>(schema: Desc, encode: (message: MessageShape<Desc>) => Uint8Array): void {
  RESPONSE_ENCODERS.set(schema.typeName, encode as (message: unknown) => Uint8Array);
}

/** Decodes a message of the given schema. */
export function deserializer(schema: DescMessage): (bytes: Buffer) => unknown {
  return (bytes) => fromBinary(schema, bytes);
}

/**
 * A request message the server could not decode. grpc-js answers a throwing request deserializer
 * with INTERNAL, as if the server were at fault; the server instead receives this in place of the
 * message and answers INVALID_ARGUMENT without calling the handler (see createGrpcServer).
 */
export class UndecodableRequest {
  constructor(
    /** Fully-qualified name of the expected message, e.g. `nepse.feature.v1.GetFeaturesRequest`. */
    readonly typeName: string,
    /** Why the bytes do not decode (protobuf-es's error). */
    readonly cause: unknown,
  ) {}
}

const REQUEST_DECODERS = new Map<string, (bytes: Uint8Array) => unknown>();

/**
 * Installs a hand-written decoder for one request type, used by every server of this process
 * that receives it. For bulk requests (thousands of nested messages per call) where protobuf-es's
 * reflective decoding is most of a call's work. The decoder must give the message fromBinary
 * would give, or throw as it would; it may itself fall back to fromBinary for shapes it does not
 * handle. Install before the server starts.
 */
export function useRequestDecoder<Desc extends DescMessage>(schema: Desc, decode: (bytes: Uint8Array) => MessageShape<Desc>): void {
  REQUEST_DECODERS.set(schema.typeName, decode);
}

/** Decodes a request message, or returns an {@link UndecodableRequest} instead of throwing. */
export function requestDeserializer(schema: DescMessage): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      const decode = REQUEST_DECODERS.get(schema.typeName);
      return decode ? decode(bytes) : fromBinary(schema, bytes);
    } catch (error) {
      return new UndecodableRequest(schema.typeName, error);
    }
  };
}

/**
 * The grpc-js service definition of a protobuf-es service descriptor. protoc-gen-es v2 writes no
 * grpc-js code, but its descriptors carry everything a definition needs: path, stream kinds and
 * the message schemas. Keys are the proto method names; `originalName` is the camelCase local name.
 */
export function grpcDefinition(service: DescService): GrpcJs.ServiceDefinition {
  const definition: Record<string, GrpcJs.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: methodPath(method),
      originalName: method.localName,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input),
      // Only a server decodes requests; a client never calls this.
      requestDeserialize: requestDeserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  return definition as GrpcJs.ServiceDefinition;
}
