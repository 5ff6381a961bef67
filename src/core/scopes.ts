import { ConfigError } from './errors.ts';
import { topicMatcher } from './topic-name.ts';

/**
 * What a key may do. Topic scopes take a pattern (exact names or `*` for any run of characters);
 * `registry:write` includes `registry:read`; `monitor` reads what an operator watches (metrics,
 * status, the dashboard's data) and nothing of the records; `admin` includes everything, and alone
 * reaches topics that are Kappa's own.
 */
export type Scope =
  | { kind: 'produce' | 'consume' | 'query'; pattern: string; matches: (name: string) => boolean }
  | { kind: 'registry:read' | 'registry:write' | 'monitor' | 'admin' };

export type TopicAction = 'produce' | 'consume' | 'query';

export const SCOPE_SYNTAX =
  /^(?:(?:produce|consume|query):[A-Za-z0-9._*-]+|registry:read|registry:write|monitor|admin)$/;

export function parseScope(text: string): Scope {
  if (!SCOPE_SYNTAX.test(text))
    throw new ConfigError(
      `Invalid scope '${text}': use produce:<topic pattern>, consume:<topic pattern>, query:<view pattern>, registry:read, registry:write, monitor or admin`,
    );
  if (text === 'registry:read' || text === 'registry:write' || text === 'monitor' || text === 'admin')
    return { kind: text };
  const [kind, pattern] = text.split(/:(.*)/s) as [TopicAction, string];
  return { kind, pattern, matches: topicMatcher([pattern]) };
}

export function isAdmin(scopes: readonly Scope[]): boolean {
  return scopes.some((s) => s.kind === 'admin');
}

/** Whether scopes allow `action` on `name`. Names that are Kappa's own need admin, whatever the pattern. */
export function allowsTopic(
  scopes: readonly Scope[],
  action: TopicAction,
  name: string,
  owned: boolean,
): boolean {
  if (isAdmin(scopes)) return true;
  if (owned) return false;
  return scopes.some((s) => s.kind === action && s.matches(name));
}

export function allowsRegistry(scopes: readonly Scope[], write: boolean): boolean {
  return scopes.some(
    (s) => s.kind === 'admin' || s.kind === 'registry:write' || (!write && s.kind === 'registry:read'),
  );
}

/** Metrics and status: what Prometheus and the dashboard read. */
export function allowsMonitor(scopes: readonly Scope[]): boolean {
  return scopes.some((s) => s.kind === 'admin' || s.kind === 'monitor');
}
