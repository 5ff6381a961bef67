import net from 'node:net';

export interface FlakyProxy {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /**
   * What to do with the answer to the nth request (counted from 1) that passes: `drop` closes the
   * client's connection once the server has answered (the request was handled, the answer lost),
   * `delay` holds the answer for that long.
   */
  plan: Map<number, 'drop' | { delayMs: number }>;
  /** Requests seen so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of an HTTP server that loses or delays chosen answers: the server handles the
 * request, the client never hears (or hears too late). One request per connection is assumed to be
 * in flight at a time (the SDK sends one batch at a time); requests are counted by their first bytes.
 */
export async function startFlakyProxy(target: { host: string; port: number }): Promise<FlakyProxy> {
  let requests = 0;
  const plan = new Map<number, 'drop' | { delayMs: number }>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    let current = 0;
    let inRequest = false;
    client.on('data', (chunk) => {
      // A new request starts with its method; the rest of a request's body does not.
      if (!inRequest || /^(GET|POST|PUT|DELETE|HEAD) /.test(chunk.subarray(0, 8).toString('latin1'))) {
        if (/^(GET|POST|PUT|DELETE|HEAD) /.test(chunk.subarray(0, 8).toString('latin1')))
          current = ++requests;
        inRequest = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      inRequest = false;
      const action = plan.get(current);
      if (action === 'drop') {
        client.destroy();
        upstream.destroy();
      } else if (action) setTimeout(() => client.writable && client.write(chunk), action.delayMs);
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    plan,
    get requests() {
      return requests;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
