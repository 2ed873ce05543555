/**
 * PredictRequest read straight from its bytes. protobuf-es's reflective fromBinary creates the
 * message through its generic machinery (a reader, the schema's field walk, a reflective create);
 * for a request of a symbol and perhaps a model name, that was a visible share of Predict's own
 * work. The plain shape clients send (the five fields once each, with their wire types, ASCII
 * strings, non-negative varints of 32 bits) is read here; anything else, unknown fields and
 * malformed bytes included, goes to fromBinary, which decodes or reports it as it always did.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { PredictRequestSchema, type PredictRequest } from '../../gen/nepse/prediction/v1/prediction_pb.js';
import type { Date as TradingDate } from '../../gen/nepse/market/v1/market_pb.js';

/** A shape left to fromBinary. */
const UNHANDLED = -1;

/** Decodes a PredictRequest into the message fromBinary would give. */
export function decodePredictRequest(bytes: Uint8Array): PredictRequest {
  return readRequest(bytes) ?? fromBinary(PredictRequestSchema, bytes);
}

/** Position and bytes of the message being read. */
interface Cursor {
  bytes: Uint8Array;
  pos: number;
}

/** A varint below 2^32 at the cursor, or UNHANDLED (longer, or past `end`). */
function varint(c: Cursor, end: number): number {
  let value = 0;
  for (let shift = 0; shift < 32; shift += 7) {
    if (c.pos >= end) return UNHANDLED;
    const byte = c.bytes[c.pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return value;
  }
  return UNHANDLED;
}

/** The ASCII string of `length` bytes at the cursor, or undefined for other bytes or a length past `end`. */
function ascii(c: Cursor, length: number, end: number): string | undefined {
  const stop = c.pos + length;
  if (length < 0 || stop > end) return undefined;
  let text = '';
  for (let i = c.pos; i < stop; i++) {
    const byte = c.bytes[i];
    if (byte >= 0x80) return undefined;
    text += String.fromCharCode(byte);
  }
  c.pos = stop;
  return text;
}

/** A Date message of `end - pos` bytes; undefined for any other shape. */
function date(c: Cursor, end: number): TradingDate | undefined {
  const value: TradingDate = { $typeName: 'nepse.market.v1.Date', year: 0, month: 0, day: 0 };
  let seen = 0;
  while (c.pos < end) {
    const tag = varint(c, end);
    const field = tag >>> 3;
    if (tag === UNHANDLED || (tag & 7) !== 0 || field < 1 || field > 3 || seen & (1 << field)) return undefined;
    seen |= 1 << field;
    const n = varint(c, end);
    if (n === UNHANDLED || n > 0x7fffffff) return undefined;
    if (field === 1) value.year = n;
    else if (field === 2) value.month = n;
    else value.day = n;
  }
  return c.pos === end ? value : undefined;
}

/** The request, or undefined when its shape is left to fromBinary. */
function readRequest(bytes: Uint8Array): PredictRequest | undefined {
  const request: PredictRequest = {
    $typeName: 'nepse.prediction.v1.PredictRequest',
    symbol: '',
    modelName: '',
    modelVersion: 0,
    modelAlias: '',
  };
  const c: Cursor = { bytes, pos: 0 };
  const end = bytes.length;
  let seen = 0;
  while (c.pos < end) {
    const tag = varint(c, end);
    if (tag === UNHANDLED) return undefined;
    const field = tag >>> 3;
    // Once each: a repeated field merges (or the last wins), which is fromBinary's business.
    if (field < 1 || field > 5 || seen & (1 << field)) return undefined;
    seen |= 1 << field;
    if (field === 4) {
      if ((tag & 7) !== 0) return undefined;
      const version = varint(c, end);
      if (version === UNHANDLED || version > 0x7fffffff) return undefined;
      request.modelVersion = version;
      continue;
    }
    if ((tag & 7) !== 2) return undefined;
    const length = varint(c, end);
    if (length === UNHANDLED) return undefined;
    if (field === 2) {
      const stop = c.pos + length;
      if (stop > end) return undefined;
      const asOf = date(c, stop);
      if (!asOf) return undefined;
      request.asOf = asOf;
      continue;
    }
    const text = ascii(c, length, end);
    if (text === undefined) return undefined;
    if (field === 1) request.symbol = text;
    else if (field === 3) request.modelName = text;
    else request.modelAlias = text;
  }
  return request;
}
