/**
 * Protobuf wire format written into one growing buffer, for the prediction service's two hand-made
 * encoders (prediction-wire.ts, predictions-made-wire.ts). The reflective `toBinary` and
 * `BinaryWriter` of @bufbuild/protobuf allocate per field (a chunk for every double, a copy at every
 * nested message); on the serving path that garbage costs more than the encoding. Here a field is a
 * few byte stores, and a nested message's length is filled in after its content: the content is
 * written after room for the longest length varint it may need, then moved back over the unused room
 * (a copy of a few hundred bytes at most), so nothing has to be measured twice.
 *
 * Field methods skip proto3 default values, as `toBinary` does; the tests of both encoders compare
 * their bytes with `toBinary`'s.
 */

/** Bytes of an unsigned varint below 2^53. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Room kept for the length of a nested message: 3 varint bytes cover 2 MiB, more than a NATS message. */
const LENGTH_ROOM = 3;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A protobuf writer over one growing buffer. */
export class WireWriter {
  private buf: Buffer;
  private offset = 0;

  constructor(capacity = 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.offset;
  }

  /** What was written, as a view of the buffer (no copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.offset);
  }

  /** Starts nested message `field`; returns where its content starts, for {@link end}. */
  begin(field: number): number {
    this.tag(field, 2);
    this.room(LENGTH_ROOM);
    this.offset += LENGTH_ROOM;
    return this.offset;
  }

  /** Ends the nested message begun at `start`: writes its length and moves its content next to it. */
  end(start: number): void {
    const length = this.offset - start;
    let at = start - LENGTH_ROOM;
    if (varintSize(length) < LENGTH_ROOM) this.buf.copyWithin(at + varintSize(length), start, this.offset);
    // Written in place, not through varint(): the bytes are inside what is written already.
    let value = length;
    while (value >= 128) {
      this.buf[at++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buf[at++] = value;
    this.offset = at + length;
  }

  /** A string field (UTF-8), unless empty. */
  string(field: number, value: string): void {
    if (value === '') return;
    this.tag(field, 2);
    if (value.length < 128 && this.ascii(value)) return;
    const bytes = Buffer.byteLength(value);
    this.room(bytes + 5);
    this.varint(bytes);
    this.offset += this.buf.write(value, this.offset, 'utf8');
  }

  /**
   * Writes a short string's length and characters when all are ASCII (ids, symbols, model names:
   * nearly every string here), a byte each; false, having written nothing, at the first that is not.
   * A loop over a few dozen characters costs less than the two calls into C++ of the general path.
   */
  private ascii(value: string): boolean {
    this.room(value.length + 1);
    const start = this.offset + 1;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 128) return false;
      this.buf[start + i] = code;
    }
    this.buf[this.offset] = value.length;
    this.offset = start + value.length;
    return true;
  }

  /** A double field (fixed64), unless 0. */
  double(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, 1);
    this.room(8);
    this.offset = this.buf.writeDoubleLE(value, this.offset);
  }

  /** A packed repeated double field, unless empty. */
  doubles(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.tag(field, 2);
    this.room(5 + 8 * values.length);
    this.varint(8 * values.length);
    for (let i = 0; i < values.length; i++) this.offset = this.buf.writeDoubleLE(values[i], this.offset);
  }

  /** An int32 (or enum) field, unless 0; a negative value takes ten bytes, as protobuf sign-extends it. */
  int32(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, 0);
    if (value > 0) this.varint(value);
    else this.int64Value(BigInt(value));
  }

  /** An int64 field given as a bigint (Timestamp.seconds), unless 0. */
  int64(field: number, value: bigint): void {
    if (value === 0n) return;
    this.tag(field, 0);
    if (value > 0n && value <= MAX_SAFE) this.varint(Number(value));
    else this.int64Value(value);
  }

  /** A market.v1.Date field, unless absent (present and all zero, it is written empty). */
  date(field: number, value: { year: number; month: number; day: number } | undefined): void {
    if (!value) return;
    const start = this.begin(field);
    this.int32(1, value.year);
    this.int32(2, value.month);
    this.int32(3, value.day);
    this.end(start);
  }

  /** A google.protobuf.Timestamp field, unless absent. */
  timestamp(field: number, value: { seconds: bigint; nanos: number } | undefined): void {
    if (!value) return;
    const start = this.begin(field);
    this.int64(1, value.seconds);
    this.int32(2, value.nanos);
    this.end(start);
  }

  /** A bool field, unless false. */
  bool(field: number, value: boolean): void {
    if (!value) return;
    this.tag(field, 0);
    this.room(1);
    this.buf[this.offset++] = 1;
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An unsigned varint below 2^53. */
  private varint(value: number): void {
    this.room(8);
    while (value >= 128) {
      this.buf[this.offset++] = (value % 128) | 128;
      value = Math.floor(value / 128);
    }
    this.buf[this.offset++] = value;
  }

  /** Any 64-bit value, as its two's complement varint (up to ten bytes). */
  private int64Value(value: bigint): void {
    this.room(10);
    let rest = BigInt.asUintN(64, value);
    while (rest >= 128n) {
      this.buf[this.offset++] = Number(rest & 127n) | 128;
      rest >>= 7n;
    }
    this.buf[this.offset++] = Number(rest);
  }

  /** Makes room for `bytes` more, doubling the buffer as needed. */
  private room(bytes: number): void {
    if (this.offset + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + bytes));
    this.buf.copy(grown, 0, 0, this.offset);
    this.buf = grown;
  }
}
