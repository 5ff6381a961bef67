import { execFileSync } from 'node:child_process';

/**
 * Integration tests start real servers. When a server's binaries are missing, its tests are skipped
 * with the reason printed, unless KAPPA_REQUIRE_SERVICES=1 (as .ci/run sets), which makes a missing
 * server a failure instead.
 */
export function serviceAvailable(name: string, commands: string[][]): { available: boolean; reason: string } {
  for (const [command, ...args] of commands) {
    try {
      execFileSync(command!, args, { stdio: 'ignore', timeout: 30_000 });
    } catch {
      const reason = `${name} tests skipped: \`${[command, ...args].join(' ')}\` failed (not installed?)`;
      if (process.env.KAPPA_REQUIRE_SERVICES === '1') {
        throw new Error(`${reason}; KAPPA_REQUIRE_SERVICES=1 makes this a failure`);
      }
      console.warn(`SKIPPED: ${reason}`);
      return { available: false, reason };
    }
  }
  return { available: true, reason: '' };
}
