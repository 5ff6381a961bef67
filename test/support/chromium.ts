import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { serviceAvailable } from './services.ts';

const CHROMIUM = '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return serviceAvailable('Chromium', [[CHROMIUM, '--version']]).available && existsSync(CHROMIUM);
}

/**
 * Debian's Chromium, headless, driven by playwright-core (which downloads no browser), with a fresh
 * profile. The machines' network is closed: Chromium's own background connections stay off.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
