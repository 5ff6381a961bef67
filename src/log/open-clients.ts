interface Closable {
  close(): Promise<void>;
}

/** The producers and consumers a bus has handed out, so that closing the bus closes them first. */
export class OpenClients {
  readonly #clients = new Set<Closable>();

  add<T extends Closable>(client: T): T {
    this.#clients.add(client);
    return client;
  }

  delete(client: Closable): void {
    this.#clients.delete(client);
  }

  /** Closes every client still open, each in turn; one failing to close does not keep the rest open. */
  async closeAll(): Promise<void> {
    for (const client of [...this.#clients]) await client.close().catch(() => {});
  }
}
