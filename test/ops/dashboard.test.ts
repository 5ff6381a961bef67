import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startUp } from '../cli/cli-helpers.ts';
import { chromiumAvailable, launchChromium } from '../support/chromium.ts';
import { tempDir } from '../support/temp-dir.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
/** Screenshots of each page, for people to look at (test-output/ is git-ignored). */
const SHOTS = path.join(ROOT, 'test-output', 'dashboard');
const hasChromium = chromiumAvailable();
const POISON = 'this is not a payment';

/**
 * The dashboard in a real browser (Debian's Chromium) against a real `kappa up --demo` with API keys:
 * a login, every page drawn with no console error, numbers that move as payments flow, and the
 * dead-letter browser finding a poisoned record and replaying it.
 */
describe.skipIf(!hasChromium)('the dashboard in Chromium', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let up: ChildProcess | undefined;
  let url: string;
  let key: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  /** The content encoding each asset came with. */
  const assets = new Map<string, string>();

  beforeAll(async () => {
    // The dashboard as this source builds it (CI's npm run build did too; this keeps a local run honest).
    await promisify(execFile)('npm', ['run', 'build:dashboard'], { cwd: ROOT });
    await mkdir(SHOTS, { recursive: true });
    temp = await tempDir('kappa-dashboard-');
    const made = await run(['keys', 'create', 'ops', '--scope', 'admin'], undefined, { cwd: temp.dir });
    expect(made.code).toBe(0);
    key = made.stdout.trim();
    ({ process: up, url } = await startUp(
      ['--demo', '--port', '0', '--data-dir', path.join(temp.dir, 'data')],
      {
        cwd: temp.dir,
      },
    ));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', async (r) => {
      if (new URL(r.url()).pathname.startsWith('/assets/'))
        assets.set(new URL(r.url()).pathname, (await r.allHeaders())['content-encoding'] ?? 'none');
    });
    page.on('requestfailed', (r) => {
      // Streams the page closes itself as it moves on are not failures.
      if (!r.url().endsWith('/v1/status/live'))
        problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    if (up?.exitCode === null) up.kill('SIGKILL');
    await temp?.remove();
  });

  const number = async (testId: string) => Number(await page.getByTestId(testId).textContent());
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 45_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await page.waitForTimeout(250);
    }
  }

  it('asks for a key, keeps it in the session, and shows topics whose numbers change', async () => {
    await page.goto(url);
    await page.getByTestId('api-key').fill(key);
    await shot('login');
    await page.getByTestId('sign-in').click();
    await page.getByTestId('records-payments').waitFor();
    const first = await number('records-payments');
    await until(async () => (await number('records-payments')) > first, 'more payments');
    expect(await page.evaluate(() => sessionStorage.getItem('kappa.apiKey'))).toBe(key);
    // The script and the styles came brotli-compressed, as the build left them.
    expect([...assets.keys()].map((a) => path.extname(a)).sort()).toEqual(['.css', '.js']);
    expect([...assets.values()]).toEqual(['br', 'br']);
    // A reload keeps the session: no login again.
    await page.reload();
    await page.getByTestId('records-payments').waitFor();
    await expect.poll(() => page.getByTestId('live').textContent(), { timeout: 10_000 }).toBe('● live');
    // The chart has drawn its rate line.
    await page.locator('.uplot').first().waitFor();
    await shot('topics');
  });

  it('draws each pipeline’s steps, and its processed count moves', async () => {
    await page.getByTestId('nav-pipelines').click();
    const card = page.getByTestId('pipeline-revenue_per_merchant');
    await card.waitFor();
    expect(await page.getByTestId('steps-revenue_per_merchant').locator('.step b').allTextContents()).toEqual(
      ['source', 'filter', 'keyBy', 'window', 'toView'],
    );
    const first = await number('processed-revenue_per_merchant');
    await until(
      async () => (await number('processed-revenue_per_merchant')) > first,
      'the pipeline to process more',
    );
    expect(await page.locator('[data-testid^="pipeline-"]').count()).toBe(3);
    await shot('pipelines');
  });

  it('lists the views, with upserts that grow', async () => {
    await page.getByTestId('nav-views').click();
    await page.getByTestId('upserts-user_journeys').waitFor();
    // Rows grow only as new users and sessions come; every session's update is an upsert.
    expect(await number('rows-user_journeys')).toBeGreaterThan(0);
    const first = await number('upserts-user_journeys');
    await until(async () => (await number('upserts-user_journeys')) > first, 'more upserts of user journeys');
    expect(await page.getByTestId('views').locator('tbody tr').count()).toBe(3);
    await shot('views');
  });

  it('shows the registry’s subjects with their versions and compatibility', async () => {
    const schema = JSON.stringify({
      type: 'record',
      name: 'Payment',
      fields: [{ name: 'id', type: 'string' }],
    });
    const registered = await fetch(`${url}/subjects/payments-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ schema }),
    });
    expect(registered.status).toBe(200);
    await page.getByTestId('nav-registry').click();
    const row = page.getByTestId('subjects').locator('tbody tr', { hasText: 'payments-value' });
    await row.waitFor();
    expect(await row.locator('td').allTextContents()).toEqual([
      'payments-value',
      '1',
      '1',
      'AVRO',
      'BACKWARD',
    ]);
    await shot('registry');
  });

  it('finds a poisoned record in the dead letters, inspects it, and replays it', async () => {
    const poisoned = await fetch(`${url}/topics/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.binary.v2+json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ records: [{ value: Buffer.from(POISON).toString('base64') }] }),
    });
    expect(poisoned.status).toBe(200);
    await page.getByTestId('nav-dead-letters').click();
    // One letter per demo pipeline, each with reason decode.
    await until(async () => {
      await page.getByTestId('reload').click();
      return (await page.locator('[data-testid="letters"] tbody tr').count()) >= 3;
    }, 'the poisoned record’s dead letters');
    // The filter is the server's: the page reads the letters again.
    await page.getByTestId('filter-pipeline').selectOption('revenue_per_merchant');
    const rows = page.locator('[data-testid="letters"] tbody tr');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    expect(await rows.first().locator('td').nth(2).textContent()).toBe('decode');
    const offset = (await rows.first().locator('td').nth(1).textContent())!;
    await page.getByTestId(`inspect-${offset}`).click();
    const detail = JSON.parse((await page.getByTestId('letter-detail').textContent())!) as Record<
      string,
      unknown
    >;
    expect(detail).toMatchObject({
      reason: 'decode',
      pipeline: 'revenue_per_merchant',
      source: { topic: 'payments' },
      value: POISON,
    });
    await shot('dead-letters');
    await page.getByTestId(`select-${offset}`).check();
    await page.getByTestId('replay').click();
    await expect
      .poll(() => page.getByTestId('replay-result').textContent(), { timeout: 10_000 })
      .toBe('Replayed 1 dead letter to payments.');
    // Back in payments, the record fails again: each pipeline dead-letters it a second time.
    await until(async () => {
      await page.getByTestId('reload').click();
      return (await page.locator('[data-testid="letters"] tbody tr').count()) === 2;
    }, 'the replayed record to come back as a dead letter');
    await shot('dead-letters-replayed');
  });

  it('logged no console error, warning or failed request on any page', () => {
    expect(problems).toEqual([]);
  });
});
