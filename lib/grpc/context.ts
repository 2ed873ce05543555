import { AsyncLocalStorage } from 'node:async_hooks';
import type { GrpcJs } from './grpc-js.js';

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** The full method path, `/<package>.<Service>/<Method>`. */
  readonly method: string;
  /** Request metadata (headers) sent by the client. */
  readonly metadata: GrpcJs.Metadata;
  /** The client's deadline in epoch milliseconds, or undefined when it set none. */
  readonly deadline: number | undefined;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** The client's address. */
  readonly peer: string;
}

const scope = new AsyncLocalStorage<CallContext>();

/** Runs `fn` with `context` as the call in scope, so outgoing calls inherit its deadline. */
export function runInCall<T>(context: CallContext, fn: () => T): T {
  return scope.run(context, fn);
}

/** The server call being handled by the current async flow, if any. */
export function currentCall(): CallContext | undefined {
  return scope.getStore();
}

/** Milliseconds left before the current call's deadline, or undefined when there is none. */
export function remainingMs(): number | undefined {
  const deadline = currentCall()?.deadline;
  return deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
}

/** Converts a grpc-js deadline (Date, epoch ms or Infinity) to epoch ms or undefined. */
export function deadlineMs(deadline: GrpcJs.Deadline): number | undefined {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}
