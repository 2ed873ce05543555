/** The calls a store has under way, so that close() can wait for them before releasing the engine. */
export class Inflight {
  readonly #calls = new Set<Promise<unknown>>();

  /** Starts `work` and remembers it until it settles. */
  track<T>(work: () => Promise<T>): Promise<T> {
    const call = work();
    this.#calls.add(call);
    const forget = () => this.#calls.delete(call);
    call.then(forget, forget);
    return call;
  }

  /** Resolves once every call started so far has settled, whatever its outcome. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#calls]);
  }
}
