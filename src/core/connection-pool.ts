/** A fixed set of connections, each lent to one caller at a time; the others wait their turn in order. */
export class ConnectionPool<C> {
  readonly #size: number;
  readonly #idle: C[];
  readonly #waiting: Array<(c: C) => void> = [];
  readonly #closed: () => Error;
  #closing = false;

  /** `closed`: the error a use after close() fails with. */
  constructor(connections: C[], closed: () => Error) {
    this.#size = connections.length;
    this.#idle = [...connections];
    this.#closed = closed;
  }

  async use<T>(work: (connection: C) => Promise<T>): Promise<T> {
    if (this.#closing) throw this.#closed();
    const connection = await this.#take();
    try {
      return await work(connection);
    } finally {
      this.#give(connection);
    }
  }

  /** Closes every connection, each once the query using it has finished. */
  async close(closeOne: (connection: C) => void): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (let i = 0; i < this.#size; i++) closeOne(await this.#take());
  }

  #take(): Promise<C> {
    const idle = this.#idle.pop();
    return idle !== undefined
      ? Promise.resolve(idle)
      : new Promise<C>((resolve) => this.#waiting.push(resolve));
  }

  #give(connection: C): void {
    const next = this.#waiting.shift();
    if (next) next(connection);
    else this.#idle.push(connection);
  }
}
