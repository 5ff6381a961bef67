import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { typescriptTypes } from '../../src/registry/index.ts';
import { useTempDir } from '../support/temp-dir.ts';

const run = promisify(execFile);
const TSC = path.join(import.meta.dirname, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');

const order = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  doc: 'An order',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
    {
      name: 'items',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Item',
          fields: [
            { name: 'sku', type: 'string' },
            { name: 'qty', type: 'int' },
          ],
        },
      },
    },
    { name: 'tags', type: { type: 'map', values: 'string' } },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'blob', type: 'bytes' },
    { name: 'again', type: 'Item' },
  ],
};

const customer = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  required: ['id', 'email'],
  properties: {
    id: { type: 'integer' },
    email: { type: 'string', description: 'Where receipts go' },
    tier: { enum: ['gold', 'basic'] },
    address: { $ref: '#/definitions/Address' },
    phones: { type: 'array', items: { type: 'string' } },
    nickname: { type: ['string', 'null'] },
  },
  additionalProperties: false,
  definitions: {
    Address: {
      type: 'object',
      required: ['city'],
      properties: { city: { type: 'string' }, zip: { type: 'string' } },
    },
  },
};

describe('kappa schemas codegen', () => {
  const temp = useTempDir('each');

  /** Type-checks `usage` against the generated declarations with tsc --strict; resolves with its errors. */
  async function typeErrors(types: string, usage: string): Promise<string> {
    const file = path.join(temp.dir, 'check.ts');
    await writeFile(file, `${types}\n${usage}\n`);
    try {
      await run(
        process.execPath,
        [
          TSC,
          '--noEmit',
          '--strict',
          '--types',
          'node',
          '--typeRoots',
          path.join(import.meta.dirname, '..', '..', 'node_modules', '@types'),
          file,
        ],
        { cwd: temp.dir },
      );
      return '';
    } catch (error) {
      return (error as { stdout: string }).stdout;
    }
  }

  it('writes Avro records, enums, arrays, maps, unions and named references as TypeScript', async () => {
    const types = typescriptTypes('AVRO', JSON.stringify(order), 'OrdersValue');
    expect(types).toContain('/** An order */\nexport interface Order {');
    expect(types).toContain('export type Status = "NEW" | "PAID";');
    expect(types).toContain('export type OrdersValue = Order;');
    const ok = `const o: OrdersValue = { id: 1, status: 'PAID', items: [{ sku: 'a', qty: 2 }], tags: { k: 'v' }, note: null, at: 0, blob: Buffer.from('x'), again: { sku: 'b', qty: 1 } };\nvoid o;`;
    expect(await typeErrors(types, ok)).toBe('');
    const wrong = `const o: OrdersValue = { id: 1, status: 'LOST', items: [], tags: {}, note: null, at: 0, blob: Buffer.from('x'), again: { sku: 'b', qty: 1 } };\nvoid o;`;
    expect(await typeErrors(types, wrong)).toMatch(/"LOST"/);
  }, 60_000);

  it('writes JSON Schema objects with required and optional fields, enums, references and arrays', async () => {
    const types = typescriptTypes('JSON', JSON.stringify(customer), 'CustomersValue');
    const ok = `const c: CustomersValue = { id: 1, email: 'a@b', tier: 'gold', address: { city: 'Oslo' }, phones: ['1'], nickname: null };\nvoid c;`;
    expect(await typeErrors(types, ok)).toBe('');
    expect(await typeErrors(types, `const c: CustomersValue = { id: 1 };\nvoid c;`)).toMatch(/email/);
    expect(
      await typeErrors(types, `const c: CustomersValue = { id: 1, email: 'x', extra: 1 };\nvoid c;`),
    ).toMatch(/extra/);
  }, 60_000);

  it('refuses a language it has no mapping for', () => {
    expect(() => typescriptTypes('PROTOBUF', 'syntax = "proto3";', 'X')).toThrow(/Avro and JSON/);
  });
});
