/**
 * What the typed clients cannot send: raw bytes as a request (a raw @grpc/grpc-js client with
 * identity (de)serialisers), request streams that never end, endless CSV lines, and a way for a
 * case to say which row or bar of an accepted call was refused.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { toBinary } from '@bufbuild/protobuf';
import { StatusSchema, type Status } from '../../gen/google/rpc/status_pb.js';
import { createRandom } from '../../lib/random/index.js';
import { grpc } from '../../lib/grpc/index.js';

const identity = (b: Buffer) => b;

function metadataOf(entries: Record<string, string>) {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) metadata.set(k, v);
  return metadata;
}

/** Sends `bytes` as the request of a unary method `path` (`/pkg.Service/Method`); resolves with the raw answer. */
export function rawUnary(
  address: string,
  path: string,
  bytes: Uint8Array,
  options: { metadata?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Buffer> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      identity,
      identity,
      Buffer.from(bytes),
      metadataOf(options.metadata ?? {}),
      { deadline: Date.now() + (options.timeoutMs ?? 15_000) },
      (error, answer) => (error ? reject(error) : resolve(answer!)),
    );
  }).finally(() => client.close());
}

/**
 * Sends `messages` as raw bytes on a client-streaming method and, unless `end` is false, ends the
 * stream; with `end: false` the stream stays open until the call ends (the deadline, if any, or
 * the server). Resolves with the raw answer.
 */
export function rawClientStream(
  address: string,
  path: string,
  messages: readonly Uint8Array[],
  options: { metadata?: Record<string, string>; timeoutMs?: number; end?: boolean } = {},
): Promise<Buffer> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    const callOptions = options.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
    const call = client.makeClientStreamRequest(
      path,
      identity,
      identity,
      metadataOf(options.metadata ?? {}),
      callOptions,
      (error, answer) => (error ? reject(error) : resolve(answer!)),
    );
    for (const message of messages) call.write(Buffer.from(message));
    if (options.end !== false) call.end();
  }).finally(() => client.close());
}

/**
 * Bytes that are no protobuf message: seeded random bytes behind a first byte that opens field 1
 * with wire type 7, which does not exist, so no decoder can take them for unknown fields.
 */
export function notProtobuf(length: number, seed = 7): Uint8Array {
  const random = createRandom(seed);
  const bytes = Uint8Array.from({ length }, () => Math.floor(random.uniform() * 256));
  bytes[0] = (1 << 3) | 7;
  return bytes;
}

/**
 * A request stream that sends `first`, then nothing, and never ends by itself: it stops when
 * `signal` aborts (the case's clean-up) or when the client stops pulling because the call ended.
 */
export async function* silentAfter<T>(first: readonly T[], signal: AbortSignal): AsyncGenerator<T> {
  yield* first;
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

/** A request stream that sends `first`, then `next()` every `everyMs` forever: a trickle that never ends. */
export async function* trickle<T>(first: readonly T[], next: () => T, everyMs = 200): AsyncGenerator<T> {
  yield* first;
  for (;;) {
    await sleep(everyMs);
    yield next();
  }
}

/** How many chunks an {@link endlessLine} stream has handed out, and the stream itself. */
export interface CountedChunks<T> {
  readonly requests: AsyncIterable<T>;
  pulled(): number;
}

/**
 * A CSV of `header` and then one line of `totalBytes` bytes with no line break, in `chunkBytes`
 * pieces made one at a time as the client pulls them (nothing is held whole on either side).
 */
export function endlessLine<T>(header: string, totalBytes: number, chunkBytes: number, wrap: (chunk: Uint8Array) => T): CountedChunks<T> {
  let pulled = 0;
  const piece = new Uint8Array(chunkBytes).fill('9'.charCodeAt(0));
  async function* requests() {
    yield wrap(new TextEncoder().encode(`${header}\nNABIL,2024-01-02,`));
    for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
      pulled++;
      yield wrap(piece);
    }
  }
  return { requests: requests(), pulled: () => pulled };
}

/** What an accepted import or ingestion says it refused, for cases whose bad rows are reported per row. */
export interface Refused {
  /** Rows or bars stored: a case with only bad rows wants 0. */
  accepted: number;
  /** The field named for the first refused row or bar ('' for a row unusable as a whole). */
  refusedField: string | undefined;
}

/** Reads the refusals of an ImportCsv or IngestBars answer. */
export function refusedOf(answer: {
  rowsAccepted?: bigint;
  barsAccepted?: bigint;
  rejectedRows?: { field: string }[];
  rejectedBars?: { field: string }[];
}): Refused {
  const first = answer.rejectedRows?.[0] ?? answer.rejectedBars?.[0];
  return { accepted: Number(answer.rowsAccepted ?? answer.barsAccepted ?? 0n), refusedField: first?.field };
}

/**
 * Throws a google.rpc.Status carried inside an answer (a PredictBatch result, a StreamPredictions
 * response) the way a failed call would, so a case reads its code and details the same way.
 */
export function throwStatus(status: Status | undefined): void {
  if (!status) return;
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(toBinary(StatusSchema, status)));
  throw Object.assign(new Error(status.message), { code: status.code, details: status.message, metadata });
}
