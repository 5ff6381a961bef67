import type { FastifyInstance, FastifyRequest } from 'fastify';
import { allowsTopic, type Principal, TimeoutError } from '../../core/index.ts';
import {
  missingColumn,
  parseKey,
  type StoredRow,
  type ViewChange,
  type ViewDefinition,
  type Views,
} from '../../serve/index.ts';
import { RequestError } from '../errors.ts';
import { eventStream } from '../event-stream.ts';

export interface ViewRoutesOptions {
  views: Views;
  /** Rows a query answers at most. Default 10,000. */
  maxQueryRows: number;
  /** How long a query may run. Default 10 s. */
  queryTimeoutMs: number;
  /** Live streams open at once. Default 1,000. */
  maxLiveStreams: number;
}

/** A row as the API answers it: times as ISO strings and ms, aggregates by name. */
function rowJson(row: StoredRow) {
  return {
    key: row.key,
    window: {
      start: new Date(row.windowStart).toISOString(),
      end: new Date(row.windowEnd).toISOString(),
      startMs: row.windowStart,
      endMs: row.windowEnd,
    },
    kind: row.kind,
    values: row.values,
  };
}

/** A time given as ms since the epoch or as an ISO 8601 timestamp. */
function timeParam(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(ms))
    throw new RequestError(
      422,
      42204,
      `${name} must be ms since the epoch or an ISO 8601 time, not ${JSON.stringify(text)}`,
    );
  return ms;
}

function viewKey(definition: ViewDefinition, text: string): unknown {
  const key = parseKey(definition, text);
  if (key === null)
    throw new RequestError(
      422,
      42205,
      `View '${definition.name}' has ${definition.key} keys: ${JSON.stringify(text)} is not one`,
    );
  return key;
}

/**
 * The query API under /v1: views with their columns, point lookups (from the cache), ranges of
 * windows, top-N, read-only SQL, and live updates as Server-Sent Events. Access: `query:<view>`
 * for a view's routes, `query:*` for SQL (a statement may read any view).
 */
export function viewRoutes(app: FastifyInstance, options: ViewRoutesOptions): void {
  const { views } = options;
  let liveStreams = 0;

  app.get('/v1/views', async (request) => {
    const principal = (request as FastifyRequest & { principal: Principal | null }).principal;
    const visible = (await views.list()).filter(
      (v) => principal === null || allowsTopic(principal.scopes, 'query', v.name, false),
    );
    return {
      views: await Promise.all(
        visible.map(async (v) => ({
          name: v.name,
          topic: v.topic,
          key: { name: 'key', type: v.key },
          columns: [
            { name: 'window_start', type: 'timestamp' },
            { name: 'window_end', type: 'timestamp' },
            { name: 'kind', type: 'string' },
            ...v.columns,
          ],
          retentionMs: v.retentionMs,
          rows: await views.rowCount(v.name),
        })),
      ),
    };
  });

  app.get<{ Params: { view: string; key: string }; Querystring: { from?: string; to?: string } }>(
    '/v1/views/:view/keys/:key',
    async (request) => {
      const { view } = request.params;
      const definition = await views.definition(view);
      const key = viewKey(definition, request.params.key);
      const from = timeParam('from', request.query.from);
      const to = timeParam('to', request.query.to);
      if (from === undefined && to === undefined) {
        const row = await views.latest(view, key);
        if (row === null)
          throw new RequestError(404, 40405, `View '${view}' has no row for key ${JSON.stringify(key)}`);
        return rowJson(row);
      }
      if (from !== undefined && to !== undefined && to < from)
        throw new RequestError(422, 42204, `to (${to}) is before from (${from})`);
      const rows = await views.range(
        view,
        key,
        from ?? Number.MIN_SAFE_INTEGER,
        to ?? Number.MAX_SAFE_INTEGER,
      );
      return { key, rows: rows.map(rowJson) };
    },
  );

  app.get<{ Params: { view: string }; Querystring: { by?: string; n?: string; window?: string } }>(
    '/v1/views/:view/top',
    async (request) => {
      const { view } = request.params;
      const definition = await views.definition(view);
      const by =
        request.query.by ?? definition.columns.find((c) => c.type === 'integer' || c.type === 'number')?.name;
      if (by === undefined)
        throw new RequestError(422, 42206, `View '${view}' has no numeric column to rank by: give by=`);
      const missing = missingColumn(definition, by);
      if (missing) throw new RequestError(422, 42206, missing);
      const n = request.query.n === undefined ? 10 : Number(request.query.n);
      if (!Number.isInteger(n) || n < 1 || n > 1000)
        throw new RequestError(422, 42207, 'n must be an integer from 1 to 1000');
      const window = timeParam('window', request.query.window);
      const rows = await views.top(view, by, n, window);
      return { by, rows: rows.map(rowJson) };
    },
  );

  app.post<{ Body: { sql?: unknown; limit?: unknown; timeoutMs?: unknown } }>(
    '/v1/query',
    async (request) => {
      const body = (request.body ?? {}) as { sql?: unknown; limit?: unknown; timeoutMs?: unknown };
      if (typeof body.sql !== 'string' || body.sql.trim() === '')
        throw new RequestError(422, 42208, 'The body must be {"sql": "SELECT …"}');
      if (body.sql.length > 100_000)
        throw new RequestError(413, 413, 'A query is at most 100,000 characters');
      const limit = body.limit === undefined ? options.maxQueryRows : Number(body.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > options.maxQueryRows)
        throw new RequestError(422, 42207, `limit must be an integer from 1 to ${options.maxQueryRows}`);
      const timeoutMs = body.timeoutMs === undefined ? options.queryTimeoutMs : Number(body.timeoutMs);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > options.queryTimeoutMs)
        throw new RequestError(
          422,
          42207,
          `timeoutMs must be an integer from 1 to ${options.queryTimeoutMs}`,
        );
      try {
        return await views.query(body.sql, { maxRows: limit, timeoutMs });
      } catch (error) {
        if (error instanceof TimeoutError) throw new RequestError(408, 40801, error.message);
        throw error;
      }
    },
  );

  app.get<{ Params: { view: string } }>('/v1/views/:view/versions', async (request) => ({
    view: request.params.view,
    versions: await views.versions.list(request.params.view),
  }));

  app.post<{ Params: { view: string }; Body: { version?: unknown; force?: unknown } | undefined }>(
    '/v1/views/:view/promote',
    async (request) => {
      const { version, force } = request.body ?? {};
      if (version !== undefined && (!Number.isInteger(version) || (version as number) < 1))
        throw new RequestError(422, 42207, 'version must be a positive integer');
      if (force !== undefined && typeof force !== 'boolean')
        throw new RequestError(422, 42207, 'force must be true or false');
      return {
        view: request.params.view,
        versions: await views.versions.promote(request.params.view, version as number | undefined, force),
      };
    },
  );

  app.post<{ Params: { view: string } }>('/v1/views/:view/rollback', async (request) => ({
    view: request.params.view,
    versions: await views.versions.rollback(request.params.view),
  }));

  app.get<{ Params: { view: string }; Querystring: { key?: string } }>(
    '/v1/views/:view/live',
    async (request, reply) => {
      const { view } = request.params;
      // A view a pipeline here writes can be followed before its first row.
      const definition = await views.definitionOrDeclared(view);
      const key = request.query.key;
      const only =
        key === undefined ? null : JSON.stringify(definition === null ? key : viewKey(definition, key));
      if (liveStreams >= options.maxLiveStreams) {
        reply.header('retry-after', '5');
        throw new RequestError(
          429,
          42902,
          `${options.maxLiveStreams} live streams are open, the most this server takes`,
        );
      }
      liveStreams++;
      eventStream(reply, 'kappa live view', (send) =>
        views.subscribe(view, (change: ViewChange) => {
          for (const row of change.upserts)
            if (only === null || JSON.stringify(row.key) === only) send('upsert', rowJson(row));
          for (const id of change.deletes)
            if (only === null || JSON.stringify(id.key) === only)
              send('delete', { key: id.key, window: { startMs: id.windowStart, endMs: id.windowEnd } });
        }),
      ).finally(() => {
        liveStreams--;
      });
      return reply;
    },
  );
}
