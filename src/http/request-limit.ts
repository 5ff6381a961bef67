import type { FastifyInstance } from 'fastify';
import { RequestError } from './errors.ts';

/**
 * At most `max` requests in progress; the next ones answer 429 with Retry-After at once, so a flood
 * queues in its clients rather than in this process's memory. Health checks are never turned away,
 * and live view streams are counted apart (views-v1.ts).
 * Written by hand: @fastify/under-pressure sheds by event-loop delay, which rises only after the harm.
 */
export function limitConcurrentRequests(app: FastifyInstance, max: number): void {
  let running = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/healthz' || request.url === '/readyz') return;
    // A live stream stays open for as long as its client wants: those have their own limit.
    if (request.routeOptions.url === '/v1/views/:view/live') return;
    if (running >= max) {
      reply.header('retry-after', '1');
      throw new RequestError(
        429,
        42901,
        `${max} requests are in progress, the most this server takes: retry`,
      );
    }
    running++;
    // 'close' fires once: when the answer is sent, or when the client goes away first.
    reply.raw.once('close', () => {
      running--;
    });
  });
}
