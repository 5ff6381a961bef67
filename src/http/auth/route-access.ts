import type { FastifyRequest } from 'fastify';
import {
  allowsMonitor,
  allowsRegistry,
  allowsTopic,
  ForbiddenError,
  isAdmin,
  type Principal,
  type TopicAction,
} from '../../core/index.ts';

/** What the checks of one request need to know. `principal` is null when no keys are configured. */
export interface AccessContext {
  principal: Principal | null;
  /** Whether a topic is Kappa's own (`_schemas`, `__*`, `kappa-*`). */
  owned: (topic: string) => boolean;
}

type Check = (request: FastifyRequest, context: AccessContext & { principal: Principal }) => void;

/** What one route asks of the caller. `open` routes are answered without a key. */
export type Access = 'open' | Check;

const anyKey: Check = () => {};

const admin: Check = (_request, { principal }) => {
  if (!isAdmin(principal.scopes)) throw forbidden(principal, 'the admin scope');
};

const monitor: Check = (_request, { principal }) => {
  if (!allowsMonitor(principal.scopes)) throw forbidden(principal, 'the monitor scope');
};

const registry =
  (write: boolean): Check =>
  (_request, { principal }) => {
    if (!allowsRegistry(principal.scopes, write))
      throw forbidden(principal, write ? 'the registry:write scope' : 'the registry:read scope');
  };

const topicParam =
  (...actions: TopicAction[]): Check =>
  (request, context) => {
    const topic = (request.params as { topic: string }).topic;
    if (!actions.some((a) => allowsTopic(context.principal.scopes, a, topic, context.owned(topic))))
      throw forbidden(context.principal, actions.map((a) => `${a}:${topic}`).join(' or '));
  };

/** `consume:` on each topic a request body names (the route answers a malformed body itself). */
const consumesEach =
  (topicsOf: (body: Record<string, unknown>) => unknown): Check =>
  (request, context) => {
    const named = topicsOf((request.body ?? {}) as Record<string, unknown>);
    if (!Array.isArray(named)) return;
    for (const topic of named)
      if (
        typeof topic === 'string' &&
        !allowsTopic(context.principal.scopes, 'consume', topic, context.owned(topic))
      )
        throw forbidden(context.principal, `consume:${topic}`);
  };

const subscribedTopics = consumesEach((body) => body.topics);
const committedTopics = consumesEach((body) =>
  Array.isArray(body.offsets) ? body.offsets.map((o: { topic?: unknown } | null) => o?.topic) : undefined,
);

const viewParam: Check = (request, context) => {
  const view = (request.params as { view: string }).view;
  if (!allowsTopic(context.principal.scopes, 'query', view, false))
    throw forbidden(context.principal, `query:${view}`);
};

/** SQL may read any view (DuckDB's query_table('…') names a table in a string): it needs them all. */
const queryAll: Check = (_request, { principal }) => {
  if (!principal.scopes.some((s) => s.kind === 'admin' || (s.kind === 'query' && s.pattern === '*')))
    throw forbidden(principal, 'query:*');
};

const REGISTRY = /^\/(?:schemas|subjects|config|mode|compatibility)(?:\/|$)/;

/**
 * Every route's access, in one table, so that a route added without an entry stops the server at
 * start (server.ts checks each route against it) instead of being open by accident. Consumer
 * instances also belong to the key that made them (consumer-instances.ts).
 */
export const ROUTE_ACCESS: Array<{ method: string; url: RegExp; access: Access; scope: string }> = [
  { method: 'GET', url: /^\/(?:healthz|readyz)$/, access: 'open', scope: 'none' },
  { method: 'GET', url: /^\/v3\/clusters(?:\/:cluster)?$/, access: anyKey, scope: 'any key' },
  {
    method: 'GET',
    url: /^\/v3\/clusters\/:cluster\/topics$/,
    access: anyKey,
    scope: 'any key (lists the topics it may produce or consume)',
  },
  { method: 'POST', url: /^\/v3\/clusters\/:cluster\/topics$/, access: admin, scope: 'admin' },
  { method: 'DELETE', url: /^\/v3\/clusters\/:cluster\/topics\/:topic$/, access: admin, scope: 'admin' },
  {
    method: 'GET',
    url: /^\/v3\/clusters\/:cluster\/topics\/:topic(?:\/partitions)?$/,
    access: topicParam('produce', 'consume'),
    scope: 'produce:<topic> or consume:<topic>',
  },
  {
    method: 'POST',
    url: /^\/v3\/clusters\/:cluster\/topics\/:topic\/records$/,
    access: topicParam('produce'),
    scope: 'produce:<topic>',
  },
  {
    method: 'POST',
    url: /^\/topics\/:topic(?:\/partitions\/:partition)?$/,
    access: topicParam('produce'),
    scope: 'produce:<topic>',
  },
  {
    method: 'GET',
    url: /^\/v1\/topics\/:topic(?:\/records)?$/,
    access: topicParam('consume'),
    scope: 'consume:<topic>',
  },
  {
    method: 'GET',
    url: /^\/v1\/topics\/:topic\/dead-letters$/,
    access: topicParam('consume'),
    scope: 'consume:<topic>',
  },
  {
    method: 'POST',
    url: /^\/v1\/topics\/:topic\/dead-letters\/replay$/,
    access: topicParam('consume'),
    scope: 'consume:<topic>, and produce:<each source topic> (checked once the letters are read)',
  },
  { method: 'POST', url: /^\/consumers\/:group$/, access: anyKey, scope: 'any key' },
  {
    method: 'POST',
    url: /^\/consumers\/:group\/instances\/:instance\/subscription$/,
    access: subscribedTopics,
    scope: 'consume:<each topic>; the instance’s own key',
  },
  {
    method: 'POST',
    url: /^\/consumers\/:group\/instances\/:instance\/offsets$/,
    access: committedTopics,
    scope: 'consume:<each topic>; the instance’s own key',
  },
  {
    method: 'GET',
    url: /^\/consumers\/:group\/instances\/:instance\/records$/,
    access: anyKey,
    scope: 'the instance’s own key',
  },
  {
    method: 'DELETE',
    url: /^\/consumers\/:group\/instances\/:instance$/,
    access: anyKey,
    scope: 'the instance’s own key',
  },
  { method: 'GET', url: /^\/v1\/openapi\.json$/, access: 'open', scope: 'none' },
  { method: 'GET', url: /^\/v1\/cdc$/, access: admin, scope: 'admin' },
  { method: 'GET', url: /^\/(?:metrics|v1\/status(?:\/live)?)$/, access: monitor, scope: 'monitor' },
  // The dashboard's page and assets hold no data: what they show comes through the routes above.
  { method: 'GET', url: /^\/(?:assets\/\*)?$/, access: 'open', scope: 'none' },
  {
    method: 'GET',
    url: /^\/v1\/views$/,
    access: anyKey,
    scope: 'any key (lists the views it may query)',
  },
  {
    method: 'GET',
    url: /^\/v1\/views\/:view\/(?:keys\/:key|top|live|versions)$/,
    access: viewParam,
    scope: 'query:<view>',
  },
  { method: 'POST', url: /^\/v1\/query$/, access: queryAll, scope: 'query:*' },
  // Which version of a view everyone reads: an operator's call.
  { method: 'POST', url: /^\/v1\/views\/:view\/(?:promote|rollback)$/, access: admin, scope: 'admin' },
  // Lookups and compatibility checks are reads even though they are POSTs.
  { method: 'GET', url: REGISTRY, access: registry(false), scope: 'registry:read' },
  { method: 'POST', url: /^\/subjects\/:subject$/, access: registry(false), scope: 'registry:read' },
  { method: 'POST', url: /^\/compatibility\//, access: registry(false), scope: 'registry:read' },
  // Modes decide whether ids can be chosen (IMPORT) or writes refused: an operator's call.
  { method: 'PUT', url: /^\/mode(?:\/|$)/, access: admin, scope: 'admin' },
  { method: 'DELETE', url: /^\/mode(?:\/|$)/, access: admin, scope: 'admin' },
  { method: 'POST', url: REGISTRY, access: registry(true), scope: 'registry:write' },
  { method: 'PUT', url: REGISTRY, access: registry(true), scope: 'registry:write' },
  { method: 'DELETE', url: REGISTRY, access: registry(true), scope: 'registry:write' },
];

/** The access of a route as registered (`HEAD` routes are Fastify's twins of `GET` ones). */
export function accessOf(method: string, url: string): Access | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return ROUTE_ACCESS.find((r) => r.method === m && r.url.test(url))?.access;
}

function forbidden(principal: Principal, needed: string): ForbiddenError {
  return new ForbiddenError(`API key '${principal.name}' may not do this: it needs ${needed}`);
}
