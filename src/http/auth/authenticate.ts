import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type KeyRing, type Principal, UnauthenticatedError } from '../../core/index.ts';
import { type Access, type AccessContext, accessOf } from './route-access.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key, or null when the server runs without keys (loopback only). */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

/**
 * Authentication on every request (before its body is read, so an anonymous caller cannot make the
 * server parse 16 MiB) and authorization once the body is parsed (some routes decide by what it names).
 * Must be installed before any route; returns the routes as they are added.
 */
export function installAuth(
  app: FastifyInstance,
  options: { keys: KeyRing; owned: (topic: string) => boolean },
): Array<{ method: string; url: string }> {
  const { keys, owned } = options;
  const routes: Array<{ method: string; url: string }> = [];
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const access = accessOf(method, route.url);
      if (!access) throw new Error(`Route ${method} ${route.url} has no entry in ROUTE_ACCESS`);
      route.config = { ...(route.config ?? {}), access };
      routes.push({ method, url: route.url });
    }
  });
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === 'open' || !keys.enabled) return;
    const presented = credentialOf(request);
    if (presented === null)
      throw new UnauthenticatedError(
        'This Kappa requires an API key: send "Authorization: Bearer <key>" (the CLI takes --api-key or KAPPA_API_KEY)',
      );
    const principal = keys.authenticate(presented);
    if (!principal) throw new UnauthenticatedError('The API key is not valid');
    request.principal = principal;
  });
  app.addHook('preHandler', async (request) => {
    const access = request.routeOptions.config?.access;
    const principal = request.principal;
    if (typeof access !== 'function' || principal === null) return;
    access(request, { principal, owned } satisfies AccessContext & { principal: Principal });
  });
  return routes;
}

/** A key from `Authorization: Bearer <key>`, or the password of Basic auth (what Confluent's clients send). */
function credentialOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!value) return null;
  if (/^bearer$/i.test(scheme!)) return value;
  if (/^basic$/i.test(scheme!)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? decoded : decoded.slice(colon + 1);
  }
  return null;
}
