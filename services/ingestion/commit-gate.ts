/**
 * Serialises the writes of one symbol within the ingestion process. A commit reads the stored bars
 * to tell new from changed from unchanged, writes, publishes its events and marks them sent; two of
 * them interleaved on one symbol would both count the same bars as new and both announce them.
 * The outbox relay takes the same turn, so it never re-sends an event that a commit (or another
 * pass) is still publishing.
 *
 * ClickHouse has no row locks or transactions to claim with, so this holds within one process:
 * the one that owns the bars table.
 */
export class CommitGate {
  /** Per symbol, the turn of the last holder or waiter; absent while nobody holds the symbol. */
  readonly #turns = new Map<string, Promise<void>>();

  /**
   * Runs `work` holding every one of `symbols`, waiting for commits of any of them in progress.
   * The call joins the line of every symbol at once, so callers hold each shared symbol in the
   * order they called: two batches never wait on each other, and the later batch of one stream
   * commits (and announces) a symbol after the earlier one.
   */
  async withSymbols<T>(symbols: readonly string[], work: () => Promise<T>): Promise<T> {
    const turns = [...new Set(symbols)].map((symbol) => this.#take(symbol));
    const releases = await Promise.all(turns);
    try {
      return await work();
    } finally {
      for (const release of releases) release();
    }
  }

  /**
   * Runs `work` holding `symbol` if nobody holds or awaits it now; otherwise runs nothing and
   * returns undefined. The relay uses this: an event being committed is the commit's to send.
   */
  async ifFree<T>(symbol: string, work: () => Promise<T>): Promise<T | undefined> {
    if (this.#turns.has(symbol)) return undefined;
    const release = await this.#take(symbol);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Symbols held or awaited right now. */
  busySymbols(): string[] {
    return [...this.#turns.keys()];
  }

  /** Waits for the symbol's turn; resolves with the function that ends it. */
  #take(symbol: string): Promise<() => void> {
    const previous = this.#turns.get(symbol) ?? Promise.resolve();
    const done = Promise.withResolvers<void>();
    const turn = previous.then(() => done.promise);
    this.#turns.set(symbol, turn);
    return previous.then(() => () => {
      done.resolve();
      // The last in line clears the symbol, so the map holds only symbols in use.
      if (this.#turns.get(symbol) === turn) this.#turns.delete(symbol);
    });
  }
}
