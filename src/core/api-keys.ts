import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseScope, type Scope } from './scopes.ts';

/** A key as the config keeps it: a name for people and logs, the hash of the secret, what it may do. */
export interface StoredApiKey {
  name: string;
  /** `sha256:<hex>` of the whole key; the key itself is never stored. */
  hash: string;
  scopes: string[];
}

/** Who made a request: the key's name and its parsed scopes. */
export interface Principal {
  name: string;
  scopes: Scope[];
}

const PREFIX = 'kappa_';

/** A new key: 256 random bits, so a fast hash is enough to keep it at rest (as GitHub does with tokens). */
export function generateApiKey(): string {
  return `${PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

export const API_KEY_HASH = /^sha256:[0-9a-f]{64}$/;

/**
 * The configured keys. A presented key is hashed once and compared with every stored hash in constant
 * time, all of them each time, so neither the answer's timing nor its order says which key came close.
 */
export class KeyRing {
  #keys: Array<{ principal: Principal; digest: Buffer }> = [];
  #enabled = false;

  constructor(keys: readonly StoredApiKey[] = []) {
    this.replace(keys);
  }

  /** Whether requests need a key: once a ring has held keys it never opens again, even if all are revoked. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Swaps in a new set of keys (a revoked key stops working with the next request). */
  replace(keys: readonly StoredApiKey[]): void {
    this.#keys = keys.map((k) => ({
      principal: { name: k.name, scopes: k.scopes.map(parseScope) },
      digest: Buffer.from(k.hash.slice('sha256:'.length), 'hex'),
    }));
    if (keys.length > 0) this.#enabled = true;
  }

  authenticate(presented: string): Principal | null {
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: Principal | null = null;
    for (const key of this.#keys) if (timingSafeEqual(key.digest, digest)) found = key.principal;
    return found;
  }
}
