/**
 * StreamPredictions: requests in, one response per request out, each carrying its request_id,
 * in completion order. A request names one symbol, or many (`symbols`, answered together in the
 * response's results): per-message costs of gRPC and protobuf are then shared by many predictions. Requests are answered concurrently (so they share micro-batches and
 * feature lookups) but never more than a window at a time: answered-but-unsent responses count
 * against the window too, so a client that stops reading stops the server reading its requests,
 * and HTTP/2 flow control pushes back on its writes. An error for one request travels in that
 * request's response; only a broken request stream ends the call.
 */
import type { StreamPredictionsRequest, StreamPredictionsResponse } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import { InvalidArgumentError, type CallContext } from '../../lib/grpc/index.js';
import { predictOne, predictSymbols, statusOf, type PredictionDeps } from './predict.js';

/** Longest request_id accepted (prediction.proto). */
export const MAX_REQUEST_ID_LENGTH = 100;

/** One request's answer: its prediction (or its symbols' results), or its error as google.rpc.Status. */
async function answer(
  deps: PredictionDeps,
  request: StreamPredictionsRequest,
  deadline: number | undefined,
): Promise<StreamPredictionsResponse> {
  const response: StreamPredictionsResponse = {
    $typeName: 'nepse.prediction.v1.StreamPredictionsResponse',
    requestId: request.requestId,
    outcome: { case: undefined },
    results: [],
  };
  try {
    if (request.requestId.length > MAX_REQUEST_ID_LENGTH) {
      throw new InvalidArgumentError({
        field: 'request_id',
        description: `at most ${MAX_REQUEST_ID_LENGTH} characters, got ${request.requestId.length}`,
      });
    }
    if (request.symbols.length === 0) {
      response.outcome = { case: 'prediction', value: await predictOne(deps, request, deadline) };
    } else {
      if (request.symbol !== '') throw new InvalidArgumentError({ field: 'symbol', description: 'set either symbol or symbols, not both' });
      response.results = await predictSymbols(deps, request, deadline);
    }
  } catch (error) {
    response.outcome = { case: 'error', value: statusOf(deps.logger, error) };
  }
  return response;
}

/**
 * The StreamPredictions handler.
 * @param window requests being answered or waiting to be sent at most (PREDICTION_STREAM_WINDOW).
 */
export async function* streamPredictions(
  deps: PredictionDeps,
  requests: AsyncIterable<StreamPredictionsRequest>,
  context: CallContext,
  window: number,
): AsyncGenerator<StreamPredictionsResponse> {
  const ready: StreamPredictionsResponse[] = [];
  let head = 0;
  let pending = 0; // being answered
  let reading = true;
  let failure: unknown;
  let wakeWriter: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  const wake = (which: 'writer' | 'reader') => {
    const resume = which === 'writer' ? wakeWriter : wakeReader;
    if (which === 'writer') wakeWriter = undefined;
    else wakeReader = undefined;
    resume?.();
  };
  const held = () => pending + ready.length - head;
  const onAbort = () => {
    wake('writer');
    wake('reader');
  };
  context.signal.addEventListener('abort', onAbort, { once: true });

  // The reader: takes a request only while the window has room.
  const reader = (async () => {
    try {
      for await (const request of requests) {
        pending++;
        void answer(deps, request, context.deadline).then((response) => {
          pending--;
          ready.push(response);
          wake('writer');
        });
        while (held() >= window && !context.signal.aborted) await new Promise<void>((resolve) => (wakeReader = resolve));
      }
    } catch (error) {
      failure = error;
    } finally {
      reading = false;
      wake('writer');
    }
  })();

  try {
    while (true) {
      if (head < ready.length) {
        const response = ready[head];
        ready[head++] = undefined as never;
        if (head === ready.length) {
          ready.length = 0;
          head = 0;
        }
        yield response;
        wake('reader');
        continue;
      }
      if (!reading && pending === 0) break;
      if (context.signal.aborted) break;
      await new Promise<void>((resolve) => (wakeWriter = resolve));
    }
  } finally {
    // Leaving early (the call was cancelled): let the reader see it and stop.
    context.signal.removeEventListener('abort', onAbort);
    wake('reader');
  }
  await reader;
  if (failure !== undefined && !context.signal.aborted) throw failure;
}
