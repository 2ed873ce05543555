import type { EncodedRows } from './types.js';

/** Bytes per payload piece before a new one is started. */
const PIECE_BYTES = 4 << 20;
const MS_PER_DAY = 86_400_000;

/** The decimal number in text[from, to), or NaN when a character is not a digit. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Rows in ClickHouse's RowBinary format, written column by column in the order of the INSERT's
 * column list. Numbers go in as their bytes: printing a double as text (what the JSON formats need)
 * costs far more than the insert itself when a row holds dozens of them, and the engine parses the
 * text back to the same bits anyway. `-0` is written as `0`, as JSON prints it, so a value reads
 * back the same whichever format stored it. Imports nothing of the engine, so worker threads can encode.
 *
 * ```ts
 * const rows = new RowBinaryWriter();
 * rows.string('NABIL').date('2024-01-02').float64(512.5).endRow();
 * await store.insertEncoded('bars', rows.encoded(['symbol', 'date', 'close']));
 * ```
 */
export class RowBinaryWriter {
  private readonly pieces: Buffer[] = [];
  private buffer!: Buffer;
  private view!: DataView;
  private offset = 0;
  /** Where the current row starts in `buffer`: a row never spans two pieces. */
  private rowStart = 0;
  private count = 0;
  /** The month of the last date written (see {@link date}). */
  private month = -1;
  private monthStart = 0;
  private monthLength = 0;

  /** @param firstPieceBytes size of the first piece, when the payload is known to be small (bytes). */
  constructor(private readonly firstPieceBytes = PIECE_BYTES) {
    this.fresh(firstPieceBytes);
  }

  /** Rows ended so far. */
  get rows(): number {
    return this.count;
  }

  /** String (and LowCardinality(String)): UTF-8 bytes after their length as a LEB128 varint. */
  string(value: string): this {
    const length = Buffer.byteLength(value);
    this.reserve(length + 5);
    this.varint(length);
    this.offset += this.buffer.write(value, this.offset, 'utf8');
    return this;
  }

  /** UInt32, little-endian. */
  uint32(value: number): this {
    this.reserve(4);
    this.view.setUint32(this.offset, value, true);
    this.offset += 4;
    return this;
  }

  /**
   * Date from an ISO `YYYY-MM-DD` day: days since 1970-01-01 as UInt16.
   * @throws RangeError for text that is not such a day or a day outside Date's 1970–2149 range.
   */
  date(day: string): this {
    // Rows come day after day: the month of the previous row is usually this one's.
    const yearMonth = day.length === 10 && day[4] === '-' && day[7] === '-' ? digits(day, 0, 4) * 16 + digits(day, 5, 7) : -1;
    if (yearMonth !== this.month) this.enterMonth(yearMonth);
    const dayOfMonth = digits(day, 8, 10);
    const days = this.monthStart + dayOfMonth - 1;
    if (this.monthLength === 0 || !(dayOfMonth >= 1 && dayOfMonth <= this.monthLength) || days < 0 || days > 0xffff) {
      throw new RangeError(`${JSON.stringify(day)} is not a YYYY-MM-DD day ClickHouse's Date can hold`);
    }
    this.reserve(2);
    this.view.setUint16(this.offset, days, true);
    this.offset += 2;
    return this;
  }

  /** Float64, its IEEE bytes little-endian; `-0` as `0` (see the class). */
  float64(value: number): this {
    this.reserve(8);
    this.view.setFloat64(this.offset, value + 0, true);
    this.offset += 8;
    return this;
  }

  /** Nullable(UInt32): a null flag byte, then the value when there is one (undefined and null are NULL). */
  nullableUint32(value: number | null | undefined): this {
    if (value === undefined || value === null) {
      this.reserve(1);
      this.buffer[this.offset++] = 1;
      return this;
    }
    this.reserve(5);
    this.buffer[this.offset++] = 0;
    return this.uint32(value);
  }

  /** Nullable(Float64): a null flag byte, then the value when there is one (undefined and null are NULL). */
  nullableFloat64(value: number | null | undefined): this {
    if (value === undefined || value === null) {
      this.reserve(1);
      this.buffer[this.offset++] = 1;
      return this;
    }
    this.reserve(9);
    this.buffer[this.offset++] = 0;
    return this.float64(value);
  }

  /** Array(Float64): the count as a varint, then the values; `-0` as `0` (see the class). */
  float64Array(values: ArrayLike<number>): this {
    const length = values.length;
    this.reserve(5 + 8 * length);
    this.varint(length);
    for (let i = 0; i < length; i++) {
      const value = values[i];
      this.view.setFloat64(this.offset, value + 0, true);
      this.offset += 8;
    }
    return this;
  }

  /** DateTime64(6): microseconds since the epoch as Int64 (a JS Date holds milliseconds). */
  dateTime64Micros(at: Date): this {
    this.reserve(8);
    this.view.setBigInt64(this.offset, BigInt(at.getTime()) * 1000n, true);
    this.offset += 8;
    return this;
  }

  /** Closes the current row. */
  endRow(): this {
    this.count++;
    this.rowStart = this.offset;
    return this;
  }

  /** The rows written, as an insert payload for these columns; the writer is empty afterwards. */
  encoded(columns: string[]): EncodedRows {
    if (this.offset !== this.rowStart) throw new Error('RowBinaryWriter: the last row was not ended');
    const chunks = [...this.pieces];
    if (this.offset > 0) chunks.push(this.buffer.subarray(0, this.offset));
    const rows = this.count;
    this.pieces.length = 0;
    this.count = 0;
    this.fresh(this.firstPieceBytes);
    return { format: 'RowBinary', columns, chunks, rows };
  }

  /** Room for `bytes` more at `offset`: the unfinished row moves to a new piece when they do not fit. */
  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    const partial = this.buffer.subarray(this.rowStart, this.offset);
    if (this.rowStart > 0) this.pieces.push(this.buffer.subarray(0, this.rowStart));
    this.fresh(Math.max(PIECE_BYTES, 2 * (partial.length + bytes)));
    partial.copy(this.buffer, 0);
    this.offset = partial.length;
  }

  /** Makes `yearMonth` (year·16 + month, or -1) the current month: its first day and its length in days (0 when not a month). */
  private enterMonth(yearMonth: number): void {
    this.month = yearMonth;
    const year = yearMonth >> 4;
    const month = yearMonth & 15;
    if (yearMonth < 0 || month < 1 || month > 12) {
      this.monthLength = 0;
      return;
    }
    const start = Date.UTC(year, month - 1, 1);
    this.monthStart = start / MS_PER_DAY;
    this.monthLength = (Date.UTC(year, month, 1) - start) / MS_PER_DAY;
  }

  private fresh(size: number): void {
    // Never from Node's shared pool: a piece may be transferred to another thread whole.
    this.buffer = Buffer.allocUnsafeSlow(Math.max(16, size));
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.byteLength);
    this.offset = 0;
    this.rowStart = 0;
  }

  private varint(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.offset++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.buffer[this.offset++] = rest;
  }
}
