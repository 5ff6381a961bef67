import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './net.ts';
import { startServerProcess } from './server-process.ts';
import { serviceAvailable } from './services.ts';
import { tempDir } from './temp-dir.ts';

export function prometheusAvailable(): boolean {
  return serviceAvailable('Prometheus', [
    ['prometheus', '--version'],
    ['promtool', '--version'],
  ]).available;
}

export interface PrometheusServer {
  url: string;
  /** An instant query through the HTTP API: each series' labels and value. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: number }>>;
  stop(): Promise<void>;
}

/**
 * Debian's `prometheus` on a free port on 127.0.0.1, in a throwaway folder, scraping `target` (a
 * Kappa's URL) every second with an API key, and loading `ruleFiles`.
 */
export async function startPrometheus(options: {
  target: string;
  apiKey?: string;
  ruleFiles?: string[];
}): Promise<PrometheusServer> {
  const temp = await tempDir('kappa-prometheus-');
  const port = await freePort();
  const target = new URL(options.target);
  const config = path.join(temp.dir, 'prometheus.yml');
  await writeFile(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: [
        {
          job_name: 'kappa',
          scheme: target.protocol.replace(':', ''),
          metrics_path: '/metrics',
          static_configs: [{ targets: [target.host] }],
          ...(options.apiKey ? { authorization: { type: 'Bearer', credentials: options.apiKey } } : {}),
        },
      ],
    }),
  );
  const server = startServerProcess('prometheus', [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(temp.dir, 'tsdb')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  const stop = async () => {
    await server.stop();
    await temp.remove();
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (server.child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not start on port ${port}:\n${server.log()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error}`);
      return body.data!.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}
