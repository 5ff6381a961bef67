import type { FastifyInstance } from 'fastify';
import { DEAD_LETTER_REASONS } from '../../stream/index.ts';

const error = { $ref: '#/components/schemas/Error' };
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      { description: STATUS[c] ?? 'error', content: { 'application/json': { schema: error } } },
    ]),
  );
const STATUS: Record<number, string> = {
  400: 'the SQL does not parse or names what is not there (40003)',
  401: 'no API key, or one that is not valid',
  403: 'the key lacks the scope, or the SQL does more than read (40302)',
  404: 'no such view (40404), key (40405), topic or partition',
  408: 'the query ran past its timeout (40801)',
  413: 'the query is too long',
  422: 'a parameter is malformed (the message names it)',
  429: 'too many requests or live streams at once; retry after Retry-After',
  503: 'the view store or the bus is unavailable',
};
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const versionsAnswer = {
  type: 'object',
  properties: {
    view: { type: 'string' },
    versions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          version: { type: 'integer' },
          table: { type: 'string' },
          state: { type: 'string', enum: ['serving', 'building', 'ready', 'held', 'retired'] },
          rows: { type: 'integer' },
          lag: { type: ['integer', 'null'] },
        },
      },
    },
  },
};

const viewParam = { name: 'view', in: 'path', required: true, schema: { type: 'string' } };
const row = { $ref: '#/components/schemas/Row' };

/**
 * The OpenAPI 3.1 document of the /v1 routes, served at /v1/openapi.json. Written by hand, beside
 * the routes: test/http/views.test.ts checks that it names exactly the /v1 routes the server has.
 */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Kappa query API',
      version: '1',
      description:
        'Views that pipelines keep up to date, read by key, range, top-N and read-only SQL, and followed live. Send `Authorization: Bearer <API key>`; a view needs `query:<view>`, SQL needs `query:*`.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          properties: { error_code: { type: 'integer' }, message: { type: 'string' } },
          required: ['error_code', 'message'],
        },
        Row: {
          type: 'object',
          properties: {
            key: {},
            window: {
              type: 'object',
              properties: {
                start: { type: 'string', format: 'date-time' },
                end: { type: 'string', format: 'date-time' },
                startMs: { type: 'integer' },
                endMs: { type: 'integer' },
              },
            },
            kind: { enum: ['final', 'update', 'early'] },
            values: { type: 'object', additionalProperties: true },
          },
        },
      },
    },
    security: [{ apiKey: [] }],
    paths: {
      '/v1/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: json({ type: 'object' }) } },
      },
      '/v1/cdc': {
        get: {
          summary:
            'Each CDC source: phase (snapshot, streaming, retrying, failed), the position on the bus and the one PostgreSQL was told, snapshot progress, the WAL its slot holds (admin)',
          responses: {
            200: json({
              type: 'object',
              properties: { sources: { type: 'array', items: { type: 'object' } } },
            }),
            ...errors(401, 403),
          },
        },
      },
      '/metrics': {
        get: {
          summary:
            'Prometheus metrics in the text exposition format: appends, consumer lag, pipeline steps, watermark delay, dead letters, commits, restores, views, cache, HTTP, registry (monitor); see docs/operations.md',
          responses: {
            200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
            ...errors(401, 403),
          },
        },
      },
      '/v1/status': {
        get: {
          summary:
            'One screen of what runs: topics (partitions, records), consumer groups with their lag, pipelines (state, steps, lag), views (rows, materializer lag), dead letters (monitor); what `kappa status` shows',
          responses: {
            200: json({
              type: 'object',
              required: ['bus', 'at', 'topics', 'groups', 'pipelines', 'views', 'deadLetters'],
              properties: {
                bus: { type: 'string' },
                at: { type: 'integer' },
                topics: { type: 'array', items: { type: 'object' } },
                groups: { type: 'array', items: { type: 'object' } },
                pipelines: { type: 'array', items: { type: 'object' } },
                views: { type: 'array', items: { type: 'object' } },
                deadLetters: { type: 'object' },
              },
            }),
            ...errors(401, 403),
          },
        },
      },
      '/v1/status/live': {
        get: {
          summary:
            "The status and Kappa's metrics (prom-client's JSON) every second as Server-Sent Events `snapshot` (monitor): the dashboard's feed",
          responses: {
            200: {
              description: 'The stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...errors(401, 403, 429),
          },
        },
      },
      '/v1/views': {
        get: {
          summary: 'The views the key may query, with their columns and row counts',
          responses: {
            200: json({
              type: 'object',
              properties: { views: { type: 'array', items: { type: 'object' } } },
            }),
            ...errors(401),
          },
        },
      },
      '/v1/views/{view}/keys/{key}': {
        get: {
          summary: "A key's latest window (from the cache), or its windows starting in [from, to)",
          parameters: [
            viewParam,
            {
              name: 'key',
              in: 'path',
              required: true,
              schema: { type: 'string' },
              description: 'as the view key type reads it; JSON for JSON keys',
            },
            {
              name: 'from',
              in: 'query',
              schema: { type: 'string' },
              description: 'ms since the epoch or ISO 8601',
            },
            {
              name: 'to',
              in: 'query',
              schema: { type: 'string' },
              description: 'ms since the epoch or ISO 8601',
            },
          ],
          responses: {
            200: json({
              oneOf: [row, { type: 'object', properties: { key: {}, rows: { type: 'array', items: row } } }],
            }),
            ...errors(401, 403, 404, 422),
          },
        },
      },
      '/v1/views/{view}/top': {
        get: {
          summary: 'The n rows with the greatest `by` in a window (default: the latest window)',
          parameters: [
            viewParam,
            { name: 'by', in: 'query', schema: { type: 'string' } },
            { name: 'n', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 10 } },
            { name: 'window', in: 'query', schema: { type: 'string' }, description: "the window's start" },
          ],
          responses: {
            200: json({
              type: 'object',
              properties: { by: { type: 'string' }, rows: { type: 'array', items: row } },
            }),
            ...errors(401, 403, 404, 422),
          },
        },
      },
      '/v1/views/{view}/live': {
        get: {
          summary:
            'Server-Sent Events: `upsert` and `delete` of every row the view changes (optionally of one key)',
          parameters: [viewParam, { name: 'key', in: 'query', schema: { type: 'string' } }],
          responses: {
            200: { description: 'an event stream', content: { 'text/event-stream': {} } },
            ...errors(401, 403, 404, 429),
          },
        },
      },
      '/v1/views/{view}/versions': {
        get: {
          summary:
            "The view's versions: which one queries read (serving), which are building, ready, held or retired, with rows and lag",
          parameters: [viewParam],
          responses: { 200: json(versionsAnswer), ...errors(401, 403, 404) },
        },
      },
      '/v1/views/{view}/promote': {
        post: {
          summary:
            'Queries read this version from now on (default the newest); refused unless it has caught up, or with force (admin)',
          parameters: [viewParam],
          requestBody: json({
            type: 'object',
            properties: { version: { type: 'integer', minimum: 1 }, force: { type: 'boolean' } },
          }),
          responses: { 200: json(versionsAnswer), ...errors(401, 403, 404, 409, 422) },
        },
      },
      '/v1/views/{view}/rollback': {
        post: {
          summary:
            'Queries read the version before the one served, which is then held from automatic promotion (admin)',
          parameters: [viewParam],
          responses: { 200: json(versionsAnswer), ...errors(401, 403, 404, 409) },
        },
      },
      '/v1/query': {
        post: {
          summary: 'One read-only SQL statement over the views, with a row limit and a timeout',
          requestBody: json({
            type: 'object',
            required: ['sql'],
            properties: {
              sql: { type: 'string' },
              limit: { type: 'integer' },
              timeoutMs: { type: 'integer' },
            },
          }),
          responses: {
            200: json({
              type: 'object',
              properties: {
                columns: { type: 'array', items: { type: 'object' } },
                rows: { type: 'array', items: { type: 'array' } },
                truncated: { type: 'boolean' },
              },
            }),
            ...errors(400, 401, 403, 408, 413, 422, 503),
          },
        },
      },
      '/v1/topics/{topic}': {
        get: {
          summary: "A topic's description with its partitions' offsets",
          parameters: [{ name: 'topic', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: json({ type: 'object' }), ...errors(401, 403, 404) },
        },
      },
      '/v1/topics/{topic}/dead-letters': {
        get: {
          summary:
            "A page of a dead-letter topic's letters (read from the headers pipelines write), oldest first, of one pipeline or reason if asked; `next` is where the following page starts, `end` the partition's end (consume:<topic>)",
          parameters: [
            { name: 'topic', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'partition', in: 'query', schema: { type: 'integer', default: 0 } },
            { name: 'from', in: 'query', schema: { type: 'integer' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', default: 100, maximum: 1000 } },
            { name: 'pipeline', in: 'query', schema: { type: 'string' } },
            { name: 'reason', in: 'query', schema: { enum: [...DEAD_LETTER_REASONS] } },
          ],
          responses: {
            200: json({
              type: 'object',
              required: ['topic', 'partition', 'partitions', 'next', 'end', 'letters'],
              properties: {
                topic: { type: 'string' },
                partition: { type: 'integer' },
                partitions: { type: 'integer' },
                next: { type: 'integer' },
                end: { type: 'integer' },
                letters: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      partition: { type: 'integer' },
                      offset: { type: 'integer' },
                      timestamp: { type: 'integer' },
                      kind: { enum: ['record', 'result'] },
                      reason: { enum: [...DEAD_LETTER_REASONS] },
                      pipeline: { type: 'string' },
                      step: { type: 'string' },
                      errorClass: { type: 'string' },
                      message: { type: 'string' },
                      source: { type: 'object' },
                      key: { type: ['string', 'null'], contentEncoding: 'base64' },
                      value: { type: ['string', 'null'], contentEncoding: 'base64' },
                      headers: { type: 'array', items: { type: 'object' } },
                    },
                  },
                },
              },
            }),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      '/v1/topics/{topic}/dead-letters/replay': {
        post: {
          summary:
            "Sends the dead letters at `offsets` back to their source topics with their own headers; window results, letters of Kappa's own topics and offsets holding no letter are refused, each with why (consume:<topic>, and produce:<each source topic>)",
          parameters: [{ name: 'topic', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: json({
            type: 'object',
            required: ['offsets'],
            properties: {
              partition: { type: 'integer', default: 0 },
              offsets: { type: 'array', items: { type: 'integer' }, minItems: 1, maxItems: 1000 },
            },
          }),
          responses: {
            200: json({
              type: 'object',
              properties: {
                replayed: { type: 'array', items: { type: 'object' } },
                refused: { type: 'array', items: { type: 'object' } },
              },
            }),
            ...errors(401, 403, 404, 422),
          },
        },
      },
      '/v1/topics/{topic}/records': {
        get: {
          summary: 'Records of a topic from an offset',
          parameters: [
            { name: 'topic', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'partition', in: 'query', schema: { type: 'integer' } },
            { name: 'offset', in: 'query', schema: { type: 'integer' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', maximum: 1000 } },
            { name: 'timeout_ms', in: 'query', schema: { type: 'integer' } },
            { name: 'format', in: 'query', schema: { enum: ['json', 'binary'] } },
          ],
          responses: { 200: json({ type: 'object' }), ...errors(401, 403, 404, 422) },
        },
      },
    },
  };
}

export function openApiRoute(app: FastifyInstance): void {
  const document = openApiDocument();
  app.get('/v1/openapi.json', async () => document);
}
