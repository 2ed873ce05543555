import { normaliseSymbol, todayInNepal } from '../../lib/market/index.js';
import { type BarRecord, barProblem } from './bar.js';
import { type Column, detectLayout, type Layout, missingColumns } from './csv-layout.js';
import { type DayMonthOrder, parseTradingDate } from './trading-date.js';

/** Limits of one import; beyond them the file is refused as malformed. */
export const CSV_LIMITS = {
  /** Longest line accepted, in bytes; a record whose quoted cells span lines counts as one line. */
  maxLineBytes: 64 * 1024,
  /** Largest file accepted, in bytes. */
  maxFileBytes: 512 * 1024 * 1024,
  /** Non-empty lines before the header that may be titles or notes. */
  maxPreambleLines: 20,
} as const;

/** The file as a whole is unusable (binary, no header, an endless line …); nothing is stored. */
export class MalformedCsvError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A data row that was refused, with its 1-based line number in the file (its first line when quoted cells span lines). */
export interface RejectedLine {
  line: number;
  field: string;
  reason: string;
}

/** What an import supplies when the file itself lacks it. */
export interface CsvDefaults {
  /** Symbol for files of one symbol's history, which carry no symbol column. */
  symbol?: string;
  /** Trading day for one-day price lists, which carry no date column (ISO). */
  date?: string;
  /** Reading of slash dates such as 03/04/2024; detected from the file when unset. */
  dayMonthOrder?: DayMonthOrder;
}

/** The outcome of a well-formed file. */
export interface CsvResult {
  bars: BarRecord[];
  rejected: RejectedLine[];
  /** Data rows seen (not counting the header, preamble or blank lines). */
  rowsRead: number;
  /** Where each recognised column sits in the header. */
  layout: Layout;
  /** The header row's cells as written in the file. */
  headers: string[];
}

/**
 * Splits one CSV record into cells (RFC 4180): quotes may wrap cells that contain the delimiter,
 * line breaks or quotes, a quote inside a quoted cell is written twice.
 */
export function splitCsvLine(line: string, delimiter: string): string[] {
  if (!line.includes('"')) return line.split(delimiter);
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

/** Reads a number as exports write it: thousands separators, currency marks, `-` for none. */
export function parseNumber(cell: string | undefined): number {
  if (cell === undefined) return Number.NaN;
  const text = cell
    .trim()
    .replace(/^"|"$/g, '')
    .replace(/,/g, '')
    .replace(/^(?:rs\.?|npr)\s*/i, '');
  if (text === '' || text === '-') return Number.NaN;
  return Number(text);
}

interface PendingRow {
  line: number;
  bar: BarRecord;
  /** The other reading of an ambiguous slash date, resolved once the file's order is known. */
  alternativeDate?: string;
  /** The date cell as written, kept for ambiguous dates only, to name them if the order stays unknown. */
  dateText?: string;
}

/** Ambiguous dates named in the message that asks for a date order; the rest are counted. */
const AMBIGUOUS_NAMED = 5;

/**
 * An incremental reader of a CSV import: feed it byte chunks as they arrive, then `finish()`.
 * It keeps only parsed bars, never the raw file, and refuses a malformed file as early as it can.
 */
export class CsvReader {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly today = todayInNepal();
  /** The record read so far: a partial line, or whole lines kept open by a quoted cell. */
  private carry = '';
  /** Whether `carry` ends inside a quoted cell (an odd number of quotes so far). */
  private quoted = false;
  /** Lines ended so far. */
  private lineNumber = 0;
  /** The line on which the record in `carry` began. */
  private recordLine = 1;
  private bytes = 0;
  private preamble = 0;
  private layout: Layout | undefined;
  private delimiter = ',';
  private headers: string[] = [];
  private order: DayMonthOrder | undefined;
  private readonly rows: PendingRow[] = [];
  private readonly rejected: RejectedLine[] = [];
  private rowsRead = 0;

  constructor(private readonly defaults: CsvDefaults = {}) {
    this.order = defaults.dayMonthOrder;
  }

  /** Feeds the next chunk of the file. */
  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (this.bytes > CSV_LIMITS.maxFileBytes) {
      throw new MalformedCsvError('chunk', `file is larger than ${CSV_LIMITS.maxFileBytes} bytes`);
    }
    if (chunk.includes(0)) throw new MalformedCsvError('chunk', 'file is binary (contains NUL bytes), not CSV text');
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch {
      throw new MalformedCsvError('chunk', 'file is not UTF-8 text');
    }
    this.consume(text);
  }

  /** Ends the file and returns what it held. */
  finish(): CsvResult {
    let tail: string;
    try {
      tail = this.decoder.decode();
    } catch {
      throw new MalformedCsvError('chunk', 'file ends inside a UTF-8 character');
    }
    this.consume(tail);
    if (this.quoted) throw new MalformedCsvError('chunk', `quoted cell opened in the record on line ${this.recordLine} is never closed`);
    if (this.carry !== '') this.record(this.carry, this.recordLine);
    this.carry = '';
    if (!this.layout) {
      throw new MalformedCsvError(
        'chunk',
        this.bytes === 0
          ? 'file is empty'
          : 'no recognisable header row (expected columns such as Symbol, Date, Open, High, Low, Close, Volume)',
      );
    }
    return { bars: this.resolveDates(), rejected: this.rejected, rowsRead: this.rowsRead, layout: this.layout, headers: this.headers };
  }

  /**
   * Cuts text into records at line breaks outside quotes. Quote parity is kept per appended piece,
   * so a line is scanned for quotes once and never again however many chunks a record spans.
   */
  private consume(text: string): void {
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      this.append(text.slice(start, end));
      start = end + 1;
      this.lineNumber++;
      if (this.quoted) {
        this.carry += '\n';
        continue;
      }
      const record = this.carry;
      const line = this.recordLine;
      this.carry = '';
      this.recordLine = this.lineNumber + 1;
      this.record(record, line);
    }
    this.append(text.slice(start));
  }

  private append(piece: string): void {
    this.carry += piece;
    for (let at = piece.indexOf('"'); at >= 0; at = piece.indexOf('"', at + 1)) this.quoted = !this.quoted;
    if (this.carry.length > CSV_LIMITS.maxLineBytes) {
      const hint = this.quoted ? ' (a quoted cell opened there may be unclosed)' : '';
      throw new MalformedCsvError('chunk', `line ${this.recordLine} is longer than ${CSV_LIMITS.maxLineBytes} bytes${hint}`);
    }
  }

  private record(raw: string, lineNumber: number): void {
    // CRLF files: the CR before the record's final line break is not part of its last cell.
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    if (!this.layout) return this.header(line, lineNumber);
    this.row(line, lineNumber);
  }

  private header(line: string, lineNumber: number): void {
    for (const delimiter of [',', ';', '\t', '|']) {
      const cells = splitCsvLine(line, delimiter);
      const layout = detectLayout(cells);
      if (!layout) continue;
      const missing = missingColumns(layout, { symbol: this.defaults.symbol !== undefined, date: this.defaults.date !== undefined });
      if (missing.length > 0) {
        throw new MalformedCsvError(
          missing[0] === 'symbol' || missing[0] === 'date' ? missing[0] : 'chunk',
          `header on line ${lineNumber} lacks column(s) ${missing.join(', ')}${missing.includes('symbol') ? ' (or give the symbol with the import)' : ''}${missing.includes('date') ? ' (or give the trading date with the import)' : ''}`,
        );
      }
      this.layout = layout;
      this.delimiter = delimiter;
      this.headers = cells.map((c) => c.trim());
      return;
    }
    if (++this.preamble > CSV_LIMITS.maxPreambleLines) {
      throw new MalformedCsvError(
        'chunk',
        `no recognisable header row in the first ${CSV_LIMITS.maxPreambleLines} lines (expected columns such as Symbol, Date, Open, High, Low, Close, Volume)`,
      );
    }
  }

  private row(line: string, lineNumber: number): void {
    this.rowsRead++;
    const cells = splitCsvLine(line, this.delimiter);
    const layout = this.layout as Layout;
    const cell = (column: Column) => (layout[column] === undefined ? undefined : cells[layout[column] as number]);
    const reject = (field: string, reason: string): void => {
      this.rejected.push({ line: lineNumber, field, reason });
    };
    // A row too short to reach every column it needs is unusable as a whole (RejectedRow.field empty).
    const needed = Math.max(...(Object.values(layout) as number[])) + 1;
    if (cells.length < needed) return reject('', `has ${cells.length} columns, the header maps ${needed}`);

    const dateCell = cell('date');
    let date = this.defaults.date ?? '';
    let alternativeDate: string | undefined;
    if (dateCell !== undefined) {
      const parsed = parseTradingDate(dateCell, this.order);
      if (!parsed.ok) return reject('date', parsed.reason);
      date = parsed.iso;
      alternativeDate = parsed.ambiguous?.alternative;
      if (!parsed.ambiguous && this.order === undefined) this.learnOrder(dateCell);
    }
    // Turnover and trade counts are optional in the data; a blank or "-" cell means unknown.
    const optional = (column: Column) => {
      const text = cell(column)?.trim();
      return text === undefined || text === '' || text === '-' ? undefined : parseNumber(text);
    };
    const bar: BarRecord = {
      symbol: normaliseSymbol(cell('symbol') ?? this.defaults.symbol ?? ''),
      date,
      open: parseNumber(cell('open')),
      high: parseNumber(cell('high')),
      low: parseNumber(cell('low')),
      close: parseNumber(cell('close')),
      volume: parseNumber(cell('volume')),
      turnover: optional('turnover'),
      trades: optional('trades'),
    };
    // The future-date check waits until ambiguous dates are settled.
    const problem = barProblem(bar, alternativeDate ? '9999-12-31' : this.today);
    if (problem) return reject(problem.field, problem.reason);
    this.rows.push({
      line: lineNumber,
      bar,
      alternativeDate,
      dateText: alternativeDate ? dateCell?.trim().replace(/^"|"$/g, '') : undefined,
    });
  }

  /** An unambiguous slash date tells the order of every other slash date in the file. */
  private learnOrder(cell: string): void {
    const match = /^\s*"?(\d{1,2})[-/.](\d{1,2})[-/.]\d{4}/.exec(cell);
    if (!match) return;
    if (+match[1] > 12) this.order = 'DMY';
    else if (+match[2] > 12) this.order = 'MDY';
  }

  /**
   * Settles ambiguous dates by the order the file revealed. When no date revealed it and none was
   * given, guessing would store wrong days silently, so the whole file is refused instead.
   */
  private resolveDates(): BarRecord[] {
    if (this.order === undefined) this.refuseAmbiguous();
    const bars: BarRecord[] = [];
    for (const row of this.rows) {
      if (row.alternativeDate && this.order === 'MDY') row.bar.date = row.alternativeDate;
      if (row.alternativeDate && row.bar.date > this.today) {
        this.rejected.push({
          line: row.line,
          field: 'date',
          reason: `date ${row.bar.date} is in the future (today is ${this.today} in Nepal)`,
        });
        continue;
      }
      bars.push(row.bar);
    }
    this.rejected.sort((a, b) => a.line - b.line);
    return bars;
  }

  /** @throws MalformedCsvError (field `date_order`) naming the dates that read both ways. */
  private refuseAmbiguous(): void {
    const ambiguous = this.rows.filter((row) => row.alternativeDate !== undefined);
    if (ambiguous.length === 0) return;
    const named = ambiguous.slice(0, AMBIGUOUS_NAMED).map((row) => `${row.dateText} (line ${row.line})`);
    const more = ambiguous.length > AMBIGUOUS_NAMED ? ` and ${ambiguous.length - AMBIGUOUS_NAMED} more` : '';
    throw new MalformedCsvError(
      'date_order',
      `dates ${named.join(', ')}${more} read as both day/month/year and month/day/year, and no date in the file tells which: ` +
        'set date_order to DATE_ORDER_DMY (day first, 31/01/2024) or DATE_ORDER_MDY (month first, 01/31/2024)',
    );
  }
}
