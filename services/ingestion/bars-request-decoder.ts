import { fromBinary } from '@bufbuild/protobuf';
import { IngestBarsRequestSchema, type IngestBarsRequest } from '../../gen/nepse/ingestion/v1/ingestion_pb.js';
import type { Bar, Date as ProtoDate } from '../../gen/nepse/market/v1/market_pb.js';

/** A shape this decoder leaves to protobuf-es (negative or huge varints, repeated sub-messages, unknown fields). */
class Unhandled extends Error {}

/**
 * Decodes an IngestBarsRequest into the same message fromBinary gives, as plain objects built
 * directly from the bytes. protobuf-es's reflective decoder creates each Bar and Date through its
 * generic machinery, which measured as the largest single cost of IngestBars (bench/ingestion.ts).
 * Anything but the plain shape clients send (fields of the expected wire types, non-negative
 * varints below 2^53, ASCII symbols, no unknown fields) is decoded by fromBinary instead, which
 * also reports malformed bytes.
 */
export function decodeIngestBarsRequest(bytes: Uint8Array): IngestBarsRequest {
  try {
    return new Reader(bytes).request();
  } catch (error) {
    if (error instanceof Unhandled || error instanceof RangeError) return fromBinary(IngestBarsRequestSchema, bytes);
    throw error;
  }
}

class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  request(): IngestBarsRequest {
    const bars: Bar[] = [];
    let source = '';
    const end = this.bytes.length;
    while (this.pos < end) {
      const tag = this.varint();
      if (tag === 10) bars.push(this.bar(this.end()));
      else if (tag === 18) source = this.string(this.end());
      else throw new Unhandled();
    }
    return { $typeName: 'nepse.ingestion.v1.IngestBarsRequest', bars, source };
  }

  private bar(end: number): Bar {
    const bar: Bar = { $typeName: 'nepse.market.v1.Bar', symbol: '', open: 0, high: 0, low: 0, close: 0, volume: 0 };
    while (this.pos < end) {
      const tag = this.varint();
      switch (tag) {
        case 10:
          bar.symbol = this.string(this.end());
          break;
        case 18:
          if (bar.date) throw new Unhandled(); // a repeated sub-message merges: protobuf-es's job
          bar.date = this.date(this.end());
          break;
        case 25:
          bar.open = this.double();
          break;
        case 33:
          bar.high = this.double();
          break;
        case 41:
          bar.low = this.double();
          break;
        case 49:
          bar.close = this.double();
          break;
        case 57:
          bar.volume = this.double();
          break;
        case 65:
          bar.turnover = this.double();
          break;
        case 72:
          bar.trades = BigInt(this.varint());
          break;
        default:
          throw new Unhandled();
      }
    }
    if (this.pos !== end) throw new Unhandled();
    return bar;
  }

  private date(end: number): ProtoDate {
    const date: ProtoDate = { $typeName: 'nepse.market.v1.Date', year: 0, month: 0, day: 0 };
    while (this.pos < end) {
      const tag = this.varint();
      if (tag === 8) date.year = this.varint();
      else if (tag === 16) date.month = this.varint();
      else if (tag === 24) date.day = this.varint();
      else throw new Unhandled();
    }
    if (this.pos !== end) throw new Unhandled();
    return date;
  }

  /** A non-negative varint below 2^49 (7 bytes); longer ones (negative or huge) are left to protobuf-es. */
  private varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= this.bytes.length) throw new Unhandled();
      const byte = this.bytes[this.pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new Unhandled();
  }

  /** The end position of a length-delimited field starting here. */
  private end(): number {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.bytes.length) throw new Unhandled();
    return end;
  }

  private double(): number {
    const value = this.view.getFloat64(this.pos, true); // RangeError past the end: left to protobuf-es
    this.pos += 8;
    return value;
  }

  /** A string field in ASCII; any other text is left to protobuf-es (symbols and sources are short and ASCII). */
  private string(end: number): string {
    const start = this.pos;
    for (let i = start; i < end; i++) if (this.bytes[i] >= 0x80) throw new Unhandled();
    this.pos = end;
    if (end - start <= 64) return String.fromCharCode.apply(null, this.bytes.subarray(start, end) as unknown as number[]);
    return ASCII.decode(this.bytes.subarray(start, end));
  }
}

const ASCII = new TextDecoder();
