/**
 * PredictResponse written straight to protobuf wire format, for Predict's answer. The reflective
 * `toBinary` of @bufbuild/protobuf walks the schema field by field for each of the 14 fields of a
 * Prediction and builds its output in chunks; under Predict load that, with the garbage it leaves,
 * was a visible share of the service's CPU per call beside gRPC itself. This writer sizes the
 * message first and fills one buffer, skipping default values as proto3 does; its test decodes what
 * it writes with the generated schema and compares it with `toBinary`'s output. A message whose
 * shape it does not expect (a partial init object, a negative version) goes to `toBinary`.
 */
import { toBinary } from '@bufbuild/protobuf';
import { PredictResponseSchema, type Prediction, type PredictResponse } from '../../gen/nepse/prediction/v1/prediction_pb.js';

/** Bytes of an unsigned varint below 2^53. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

const isUint = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** Size of a string field (tag, length, bytes), 0 when it is empty; `undefined` when not a string. */
function stringSize(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (value === '') return 0;
  const bytes = Buffer.byteLength(value);
  return 1 + varintSize(bytes) + bytes;
}

/** What the writer needs to know of a Prediction, measured once; undefined when it must fall back. */
interface Measured {
  size: number;
  date: number;
  stamp: number;
  seconds: number;
}

function measure(p: Prediction): Measured | undefined {
  let size = 0;
  for (const s of [p.predictionId, p.symbol, p.modelName, p.degradedDetail, p.modelAlias]) {
    const n = stringSize(s);
    if (n === undefined) return undefined;
    size += n;
  }
  let date = 0;
  if (p.featureDate) {
    const { year, month, day } = p.featureDate;
    if (!isUint(year) || !isUint(month) || !isUint(day)) return undefined;
    date = (year ? 1 + varintSize(year) : 0) + (month ? 1 + varintSize(month) : 0) + (day ? 1 + varintSize(day) : 0);
    size += 1 + varintSize(date) + date;
  }
  for (const d of [p.predictedReturn, p.predictedClose, p.baseClose]) {
    if (typeof d !== 'number') return undefined;
    if (d !== 0) size += 9;
  }
  if (!isUint(p.modelVersion) || p.modelVersion > 0x7fffffff || !isUint(p.degradedReason)) return undefined;
  if (p.modelVersion) size += 1 + varintSize(p.modelVersion);
  if (p.degraded) size += 2;
  if (p.degradedReason) size += 1 + varintSize(p.degradedReason);
  if (p.defaultModelUsed) size += 2;
  let stamp = 0;
  let seconds = 0;
  if (p.predictedAt) {
    seconds = Number(p.predictedAt.seconds);
    if (!isUint(seconds) || !isUint(p.predictedAt.nanos)) return undefined;
    stamp = (seconds ? 1 + varintSize(seconds) : 0) + (p.predictedAt.nanos ? 1 + varintSize(p.predictedAt.nanos) : 0);
    size += 1 + varintSize(stamp) + stamp;
  }
  return { size, date, stamp, seconds };
}

/** Writes into one buffer, front to back. */
class Writer {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  varint(value: number): void {
    while (value >= 128) {
      this.buf[this.offset++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buf[this.offset++] = value;
  }

  string(tag: number, value: string): void {
    if (value === '') return;
    this.buf[this.offset++] = tag;
    const bytes = Buffer.byteLength(value);
    this.varint(bytes);
    this.offset += this.buf.write(value, this.offset, 'utf8');
  }

  double(tag: number, value: number): void {
    if (value === 0) return;
    this.buf[this.offset++] = tag;
    this.offset = this.buf.writeDoubleLE(value, this.offset);
  }

  uint(tag: number, value: number): void {
    if (value === 0) return;
    this.buf[this.offset++] = tag;
    this.varint(value);
  }
}

/** The wire bytes of a PredictResponse, as `toBinary(PredictResponseSchema, response)` gives them. */
export function encodePredictResponse(response: PredictResponse): Uint8Array {
  const p = response.prediction;
  if (!p) return toBinary(PredictResponseSchema, response);
  const m = measure(p);
  if (!m) return toBinary(PredictResponseSchema, response);
  const w = new Writer(Buffer.allocUnsafe(1 + varintSize(m.size) + m.size));
  w.buf[w.offset++] = 0x0a; // 1: prediction
  w.varint(m.size);
  w.string(0x0a, p.predictionId);
  w.string(0x12, p.symbol);
  if (p.featureDate) {
    w.buf[w.offset++] = 0x1a;
    w.varint(m.date);
    w.uint(0x08, p.featureDate.year);
    w.uint(0x10, p.featureDate.month);
    w.uint(0x18, p.featureDate.day);
  }
  w.double(0x21, p.predictedReturn);
  w.double(0x29, p.predictedClose);
  w.double(0x31, p.baseClose);
  w.string(0x3a, p.modelName);
  w.uint(0x40, p.modelVersion);
  w.uint(0x48, p.degraded ? 1 : 0);
  w.uint(0x50, p.degradedReason);
  w.string(0x5a, p.degradedDetail);
  if (p.predictedAt) {
    w.buf[w.offset++] = 0x62;
    w.varint(m.stamp);
    w.uint(0x08, m.seconds);
    w.uint(0x10, p.predictedAt.nanos);
  }
  w.uint(0x68, p.defaultModelUsed ? 1 : 0);
  w.string(0x72, p.modelAlias);
  if (w.offset !== w.buf.length) throw new Error(`PredictResponse writer: wrote ${w.offset} of ${w.buf.length} bytes`);
  return w.buf;
}
