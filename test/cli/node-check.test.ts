import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeProblem } from '../../bin/node-check.js';
import { BIN } from './cli-helpers.ts';

/** A Node.js older than Kappa needs, if the machine has one (Debian's own Node 20, say). */
function oldNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/bin/node']) {
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (nodeProblem(version)) return candidate;
    } catch {}
  }
  return undefined;
}

describe('the kappa launcher on an old Node.js', () => {
  it('says which Node.js is needed and how to get it', () => {
    expect(nodeProblem('v20.20.2')).toMatch(/needs Node\.js 22\.22 or newer.*this is Node\.js v20\.20\.2/s);
    expect(nodeProblem('v20.20.2')).toMatch(/npm install -g --prefix \/usr\/local node@24/);
    expect(nodeProblem('v22.21.0')).not.toBeNull();
    expect(nodeProblem('v22.22.0')).toBeNull();
    expect(nodeProblem('v24.1.0')).toBeNull();
    expect(nodeProblem(process.version)).toBeNull();
  });

  const old = oldNode();
  it.runIf(old)(`prints that message instead of a stack trace when run by ${old}`, () => {
    const result = spawnSync(old!, [BIN, 'topics', 'list'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/kappa needs Node\.js 22\.22 or newer/);
    expect(result.stderr).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|at .*\(/);
  });

  it('is plain JavaScript, which any Node.js parses', () => {
    expect(path.extname(BIN)).toBe('.js');
  });
});
