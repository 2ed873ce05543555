/**
 * Progress of `nepse import` on stderr, so stdout keeps only the outcome: on a terminal one line
 * rewritten in place (at most every `redrawMs`), elsewhere (a log, CI) one line each time another
 * `everyBytes` have been sent. Rows are the file's lines sent so far, header and blank lines
 * included; the service's own count comes with the outcome.
 */

/** Where and how progress is shown. */
export interface ProgressOptions {
  /** The file's size in bytes. */
  totalBytes: number;
  /** A terminal: one updating line; otherwise a line per `everyBytes`. */
  tty: boolean;
  write(text: string): void;
  /** Bytes between lines when not on a terminal. Default 16 MiB. */
  everyBytes?: number;
  /** Least time between redraws on a terminal, in ms. Default 100. */
  redrawMs?: number;
  /** Files smaller than this, in bytes, show nothing (they finish at once). Default 1 MiB. */
  minBytes?: number;
  now?: () => number;
}

/** What the import feeds as it reads. */
export interface Progress {
  /** Counts a chunk read from the file and on its way. */
  sent(chunk: Uint8Array): void;
  /** Ends the progress display (the terminal line gets its line break). */
  done(): void;
}

const MIB = 1024 * 1024;
const NEWLINE = 0x0a;

/** A file size in MB with one decimal. */
const mb = (bytes: number) => `${(bytes / MIB).toFixed(1)} MB`;

/** Progress shown as `ProgressOptions` says; a no-op for small files. */
export function importProgress(options: ProgressOptions): Progress {
  const { totalBytes, tty, write, everyBytes = 16 * MIB, redrawMs = 100, minBytes = MIB, now = Date.now } = options;
  if (totalBytes < minBytes) return { sent() {}, done() {} };
  let bytes = 0;
  let rows = 0;
  let nextLineAt = everyBytes;
  let shownBytes = -1;
  let lastDraw = Number.NEGATIVE_INFINITY;
  const line = () =>
    `sent ${mb(bytes)} of ${mb(totalBytes)} (${Math.floor((100 * bytes) / totalBytes)} %), ${rows.toLocaleString('en-US')} rows`;
  return {
    sent(chunk) {
      bytes += chunk.byteLength;
      for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, at + 1)) rows++;
      if (tty) {
        if (now() - lastDraw < redrawMs && bytes < totalBytes) return;
        lastDraw = now();
        write(`\r\x1b[K${line()}`);
      } else if (bytes >= nextLineAt) {
        while (nextLineAt <= bytes) nextLineAt += everyBytes;
        shownBytes = bytes;
        write(`${line()}\n`);
      }
    },
    done() {
      if (tty) write(`\r\x1b[K${line()}\n`);
      else if (bytes !== shownBytes) write(`${line()}\n`);
    },
  };
}
