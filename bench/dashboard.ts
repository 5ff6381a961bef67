// The dashboard in headless Chromium (Debian's, driven by playwright-core): its page weight (bytes
// over the wire for a first visit: page, scripts, styles, as compressed) and its time to first render and to its
// first data, against the server kappa up runs. Baselines from the same run: uPlot's own files (the
// chart library alone, brotli-compressed alike) for the weight, and a tiny page of the same server (/healthz) for the times.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompressSync, constants } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { createServer } from '../src/http/index.ts';
import { openEmbeddedBus } from '../src/log/index.ts';
import { Metrics, readStatus } from '../src/ops/index.ts';
import { launchChromium } from '../test/support/chromium.ts';
import { type BenchOptions, type BenchResult, result } from './result.ts';

const ROOT = path.join(import.meta.dirname, '..');
const VISITS = 7;

export async function* run({ quick }: BenchOptions): AsyncIterable<BenchResult> {
  process.stderr.write('building the dashboard\n');
  await promisify(execFile)('npm', ['run', 'build:dashboard'], { cwd: ROOT });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kappa-bench-dashboard-'));
  const bus = await openEmbeddedBus({ dataDir: dir, maintenanceInterval: 0 });
  await bus.createTopic('payments', { partitions: 4 });
  const metrics = new Metrics().start().readFrom({ bus });
  const server = await createServer({
    bus,
    metrics,
    status: () =>
      readStatus({ bus, busDescription: 'bench', pipelines: [], deadLetterTopic: 'dead-letters' }),
  });
  const url = await server.listen(0, '127.0.0.1');
  const browser = await launchChromium();
  try {
    const uplot = path.join(ROOT, 'node_modules', 'uplot', 'dist');
    // As the dashboard's own assets are sent: brotli at quality 11 (scripts/compress-assets.ts).
    let library = 0;
    for (const file of ['uPlot.iife.min.js', 'uPlot.min.css'])
      library += brotliCompressSync(await readFile(path.join(uplot, file)), {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11 },
      }).length;
    yield result('dashboard', 'page-weight', 'bytes', await pageWeight(browser, url), 'B', {
      name: 'uplot-alone-brotli',
      value: library,
      lowerIsBetter: true,
    });
    const visits = quick ? 3 : VISITS;
    const dashboard = await render(browser, url, '[data-testid="records-payments"]', visits);
    const tiny = await render(browser, `${url}/healthz`, 'body', visits);
    yield result('dashboard', 'first-contentful-paint', 'ms', dashboard.paint, 'ms', {
      name: 'healthz-page',
      value: tiny.paint,
      lowerIsBetter: true,
    });
    yield result('dashboard', 'first-data', 'ms', dashboard.ready, 'ms', {
      name: 'healthz-page',
      value: tiny.ready,
      lowerIsBetter: true,
    });
  } finally {
    await browser.close();
    await server.close();
    metrics.stop();
    await bus.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Bytes of the page, its scripts and styles on a first visit (an empty cache), headers included. */
async function pageWeight(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const sizes: Array<Promise<number>> = [];
  page.on('requestfinished', (request) => {
    if (['document', 'script', 'stylesheet'].includes(request.resourceType()))
      sizes.push(request.sizes().then((s) => s.responseBodySize + s.responseHeadersSize));
  });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('[data-testid="records-payments"]');
  const total = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
  await context.close();
  return total;
}

/**
 * The median over `visits` first visits (each in a new context: nothing cached) of the time to the
 * first contentful paint and to `selector` showing, from the start of the navigation.
 */
async function render(
  browser: Browser,
  url: string,
  selector: string,
  visits: number,
): Promise<{ paint: number; ready: number }> {
  const paints: number[] = [];
  const readies: number[] = [];
  for (let i = 0; i < visits; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForSelector(selector);
    const { paint, ready } = await page.evaluate(() => ({
      ready: performance.now(),
      paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
    }));
    paints.push(paint);
    readies.push(ready);
    await context.close();
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { paint: median(paints), ready: median(readies) };
}
