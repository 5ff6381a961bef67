import type { FastifyReply } from 'fastify';

/** Longest a slow subscriber may fall behind (bytes not yet taken by its socket) before it is cut off. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
const KEEPALIVE_MS = 15_000;

/**
 * An SSE response: events as `subscribe` sends them, a comment every 15 s so proxies keep the
 * connection, and the subscription dropped as soon as the client goes (or falls too far behind).
 */
export function eventStream(
  reply: FastifyReply,
  comment: string,
  subscribe: (send: (event: string, data: unknown) => void) => () => void,
): Promise<void> {
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`: ${comment}\n\n`);
  return new Promise((resolve) => {
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepalive);
      unsubscribe();
      if (!res.writableEnded) res.end();
      resolve();
    };
    const send = (event: string, data: unknown) => {
      if (closed) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) return close();
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = subscribe(send);
    const keepalive = setInterval(() => send('ping', {}), KEEPALIVE_MS);
    res.once('close', close);
    res.once('error', close);
  });
}
