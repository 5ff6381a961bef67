import { readFile } from 'node:fs/promises';
import { type Assembly, type KappaConfig, readKeysFile, watchKeysFile } from '../config/index.ts';
import { ConfigError, KeyRing, type Logger } from '../core/index.ts';
import { Metrics, readStatus, type Status } from '../ops/index.ts';

/** What `kappa up` and `kappa worker --metrics-port` serve with: the keys, the certificate, the metrics. */
export interface Serving {
  keys: KeyRing;
  tls?: { cert: string; key: string };
  /** Started (listening for events) when `http.metrics` is on, else null. */
  metrics: Metrics | null;
}

/**
 * Reads the keys and the certificate, and starts the metrics listening: before the assembly
 * starts, since a pipeline's restore at start is an event. (The server refuses a non-loopback host
 * without keys before anything listens.)
 */
export async function prepareServing(config: KappaConfig): Promise<Serving> {
  const keys = new KeyRing([...config.auth.keys, ...(await readKeysFile(config.auth.keysFile))]);
  const tls = config.http.tls && {
    cert: await readTlsFile(config.http.tls.certFile, 'certificate'),
    key: await readTlsFile(config.http.tls.keyFile, 'key'),
  };
  return { keys, ...(tls ? { tls } : {}), metrics: config.http.metrics ? new Metrics().start() : null };
}

/** The metrics read what the assembly holds (lag, changelog sizes, view rows) at each scrape. */
export function observe(serving: Serving, assembly: Assembly): void {
  serving.metrics?.readFrom({
    bus: assembly.bus,
    changelogs: () => assembly.pipelines.flatMap((p) => p.changelogs),
    views: () => assembly.views.materializers,
    rowCount: (view) => assembly.views.rowCount(view),
  });
}

/** `GET /v1/status` of what this process runs. */
export function statusOf(assembly: Assembly, config: KappaConfig): () => Promise<Status> {
  return () =>
    readStatus({
      bus: assembly.bus,
      busDescription: assembly.busDescription,
      pipelines: assembly.pipelines,
      views: assembly.views,
      deadLetterTopic: config.pipelines.deadLetterTopic,
      registryTopic: config.registry.topic,
    });
}

/** Keys added to or revoked from the keys file take effect at once; returns what stops watching. */
export function watchKeys(config: KappaConfig, serving: Serving, logger: Logger): () => void {
  return watchKeysFile(
    config.auth.keysFile,
    (changed) => serving.keys.replace([...config.auth.keys, ...changed]),
    logger,
  );
}

/** A port flag: an integer from 0 to 65535. */
export function portFlag(flag: string, text: string | undefined, zero: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`${flag} must be a port number (0 ${zero}), got '${text}'`);
  return port;
}

async function readTlsFile(file: string, what: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: Error) => {
    throw new ConfigError(`Cannot read the TLS ${what} ${file}: ${error.message}`);
  });
}
