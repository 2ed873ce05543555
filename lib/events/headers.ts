/**
 * Header names the kit writes, and the bridge between NATS headers and OpenTelemetry
 * propagation (W3C `traceparent`/`tracestate` once a propagator is registered).
 */
import { context, propagation, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { headers as createHeaders, type MsgHdrs } from 'nats';

/** Header names written by the kit. `Nats-Msg-Id` is JetStream's own deduplication header. */
export const EventHeaders = {
  msgId: 'Nats-Msg-Id',
  contentType: 'Content-Type',
  event: 'Nepse-Event',
  error: 'Nepse-Error',
  originalSubject: 'Nepse-Original-Subject',
  originalSeq: 'Nepse-Original-Seq',
  originalMsgId: 'Nepse-Original-Msg-Id',
  consumer: 'Nepse-Consumer',
  deliveries: 'Nepse-Deliveries',
} as const;

/** Content type of every event payload. */
export const PROTOBUF_CONTENT_TYPE = 'application/protobuf';

/** Longest header value the kit writes from free text (error messages), in characters. */
const MAX_FREE_TEXT_HEADER = 1024;

const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  get(carrier, key) {
    // MsgHdrs.get answers "" for a missing header; propagators want undefined.
    const value = carrier?.get(key);
    return value ? value : undefined;
  },
  keys(carrier) {
    return carrier ? carrier.keys() : [];
  },
};

/** Writes the active (or given) context's trace headers into `hdrs`. */
export function injectTraceContext(hdrs: MsgHdrs, ctx: Context = context.active()): void {
  propagation.inject(ctx, hdrs, setter);
}

/** The context carried by a message's trace headers, on top of `base` (default: active). */
export function extractTraceContext(hdrs: MsgHdrs | undefined, base: Context = context.active()): Context {
  return propagation.extract(base, hdrs, getter);
}

/** The headers of a message as a plain record (first value of each name). */
export function headersToRecord(hdrs: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!hdrs) return out;
  for (const k of hdrs.keys()) out[k] = hdrs.get(k);
  return out;
}

/**
 * A copy of a message's headers fit for republishing: JetStream's own `Nats-*` headers are
 * dropped, since on a new publish they would mean something else (a stale `Nats-Msg-Id` would
 * dedupe the copy away, `Nats-Expected-*` would make it fail).
 */
export function copyUserHeaders(hdrs: MsgHdrs | undefined): MsgHdrs {
  const out = createHeaders();
  if (!hdrs) return out;
  for (const k of hdrs.keys()) {
    if (k.toLowerCase().startsWith('nats-')) continue;
    for (const v of hdrs.values(k)) out.append(k, v);
  }
  return out;
}

/**
 * Makes free text safe as a header value: NATS headers are line-based, so CR/LF would corrupt
 * the message; long texts (stack-laden errors) are cut.
 */
export function headerSafe(text: string): string {
  const oneLine = text.replace(/[\r\n]+/g, ' ').trim();
  return oneLine.length > MAX_FREE_TEXT_HEADER ? `${oneLine.slice(0, MAX_FREE_TEXT_HEADER - 1)}…` : oneLine;
}
