import type { FastifyInstance } from 'fastify';
import type { SourceStatus } from '../../ingest/index.ts';

/** `GET /v1/cdc`: each CDC source's phase, position, snapshot progress and the WAL its slot holds. */
export function cdcRoutes(app: FastifyInstance, status: () => SourceStatus[]): void {
  app.get('/v1/cdc', async () => ({ sources: status() }));
}
