import type { Status } from '../../src/ops/status.ts';

export type { Status };

const KEY = 'kappa.apiKey';

/** The API key of this browser session: kept in sessionStorage, gone when the tab closes. */
export const session = {
  get key(): string | null {
    return sessionStorage.getItem(KEY);
  },
  signIn(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
  },
};

/** An answer that was not 2xx, with the server's message. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Called when the server asks for a key (401): the app shows its login. */
let onUnauthorized: (message: string) => void = () => {};
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = session.key;
  return { ...extra, ...(key ? { authorization: `Bearer ${key}` } : {}) };
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; type?: string } = {},
): Promise<T> {
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers: headers(init.body === undefined ? {} : { 'content-type': init.type ?? 'application/json' }),
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  const body = text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const message = (body as { message?: string } | undefined)?.message ?? `HTTP ${response.status}`;
    if (response.status === 401) onUnauthorized(message);
    throw new ApiError(response.status, message);
  }
  return body as T;
}

/** One sample of a metric, as prom-client lists them. */
export interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}
export interface Metric {
  name: string;
  type: string;
  values: MetricValue[];
}

/** What `/v1/status/live` sends every second. */
export interface Snapshot {
  status: Status;
  metrics: Metric[];
}

/**
 * Follows `/v1/status/live` (Server-Sent Events, read with fetch so the key goes in a header, which
 * EventSource cannot send), calling `onSnapshot` with each; reconnects after a failure.
 */
export function followStatus(
  onSnapshot: (s: Snapshot) => void,
  onState: (connected: boolean) => void,
): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  const connect = async (attempt: number): Promise<void> => {
    if (stopped) return;
    controller = new AbortController();
    try {
      const response = await fetch('/v1/status/live', { headers: headers(), signal: controller.signal });
      if (response.status === 401) {
        onUnauthorized('An API key is required');
        return;
      }
      if (!response.ok || response.body === null)
        throw new ApiError(response.status, `HTTP ${response.status}`);
      onState(true);
      attempt = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (/^event: snapshot$/m.test(event) && data) onSnapshot(JSON.parse(data) as Snapshot);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (error) {
      if (stopped) return;
      console.warn('live status interrupted:', (error as Error).message);
    }
    onState(false);
    setTimeout(() => void connect(attempt + 1), Math.min(5000, 250 * 2 ** attempt));
  };
  void connect(0);
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** The sum of a metric's samples whose labels match. */
export function total(
  metrics: Metric[],
  name: string,
  labels: Record<string, string> = {},
  metricName = name,
): number {
  const metric = metrics.find((m) => m.name === name);
  if (!metric) return 0;
  let sum = 0;
  for (const v of metric.values)
    if (
      (v.metricName ?? name) === metricName &&
      Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)
    )
      sum += v.value;
  return sum;
}

/** The distinct values of a label across a metric's samples. */
export function labelValues(metrics: Metric[], name: string, label: string): string[] {
  const metric = metrics.find((m) => m.name === name);
  return [
    ...new Set(
      (metric?.values ?? [])
        .map((v) => v.labels[label])
        .filter((v) => v !== undefined)
        .map(String),
    ),
  ].sort();
}
