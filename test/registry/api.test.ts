import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avroRecord, type RegistryServer, SR_JSON, startRegistryServer } from './registry-helpers.ts';

const v1 = avroRecord('User', [{ name: 'name', type: 'string' }]);
const v2 = avroRecord('User', [
  { name: 'name', type: 'string' },
  { name: 'age', type: 'int', default: 0 },
]);
const incompatible = avroRecord('User', [
  { name: 'name', type: 'string' },
  { name: 'email', type: 'string' },
]);

describe("Confluent's Schema Registry API", () => {
  let s: RegistryServer;
  let n = 0;
  const subject = (name: string) => `${name}-${++n}`;
  const register = (subj: string, schema: string, extra: object = {}) =>
    s.call('POST', `/subjects/${encodeURIComponent(subj)}/versions`, { schema, ...extra });

  beforeAll(async () => {
    s = await startRegistryServer({ maxSchemaBytes: 64 * 1024 });
  });
  afterAll(async () => s.close());

  it('lists the schema types in Confluent order', async () => {
    const r = await s.call('GET', '/schemas/types');
    expect(r.status).toBe(200);
    expect(r.type).toContain('application/vnd.schemaregistry.v1+json');
    expect(r.body).toEqual(['JSON', 'PROTOBUF', 'AVRO']);
  });

  it('registers versions and serves them by id, version, latest and -1', async () => {
    const subj = subject('users-value');
    const first = await register(subj, v1);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ id: expect.any(Number) });
    const second = await register(subj, v2);
    expect(second.body.id).toBe(first.body.id + 1);

    expect((await s.call('GET', `/schemas/ids/${first.body.id}`)).body).toEqual({
      schema: JSON.stringify(JSON.parse(v1)),
    });
    expect((await s.call('GET', `/schemas/ids/${first.body.id}/schema`)).body).toEqual(JSON.parse(v1));
    expect((await s.call('GET', `/subjects/${subj}/versions`)).body).toEqual([1, 2]);
    for (const v of ['latest', '-1', '2', 'LATEST'])
      expect((await s.call('GET', `/subjects/${subj}/versions/${v}`)).body).toEqual({
        subject: subj,
        version: 2,
        id: second.body.id,
        schema: JSON.stringify(JSON.parse(v2)),
      });
    expect((await s.call('GET', `/subjects/${subj}/versions/1/schema`)).body).toEqual(JSON.parse(v1));
    expect((await s.call('GET', `/schemas/ids/${second.body.id}/versions`)).body).toEqual([
      { subject: subj, version: 2 },
    ]);
    expect((await s.call('GET', '/subjects')).body).toContain(subj);
    expect(
      (await s.call('GET', `/schemas/ids/${first.body.id}?fetchMaxId=true`)).body.maxId,
    ).toBeGreaterThanOrEqual(second.body.id);
  });

  it('gives the same schema the same id, in the same subject and in another', async () => {
    const a = subject('a');
    const b = subject('b');
    const first = await register(a, v1);
    // The same schema with other whitespace and key order is the same schema.
    const reordered = JSON.stringify(
      { fields: [{ type: 'string', name: 'name' }], name: 'User', type: 'record' },
      null,
      2,
    );
    expect((await register(a, reordered)).body.id).toBe(first.body.id);
    expect((await s.call('GET', `/subjects/${a}/versions`)).body).toEqual([1]);
    expect((await register(b, v1)).body.id).toBe(first.body.id);
    expect((await s.call('GET', `/schemas/ids/${first.body.id}/subjects`)).body).toEqual(
      expect.arrayContaining([a, b]),
    );
  });

  it('looks a schema up under a subject', async () => {
    const subj = subject('lookup');
    const { body } = await register(subj, v1);
    const found = await s.call('POST', `/subjects/${subj}`, { schema: v1 });
    expect(found.status).toBe(200);
    expect(found.body).toEqual({
      subject: subj,
      version: 1,
      id: body.id,
      schema: JSON.stringify(JSON.parse(v1)),
    });
    const missing = await s.call('POST', `/subjects/${subj}`, { schema: v2 });
    expect([missing.status, missing.body.error_code]).toEqual([404, 40403]);
    const noSubject = await s.call('POST', `/subjects/${subject('nope')}`, { schema: v1 });
    expect([noSubject.status, noSubject.body.error_code]).toEqual([404, 40401]);
  });

  it('rejects an incompatible schema with 409 and explains it with verbose', async () => {
    const subj = subject('compat');
    await register(subj, v1);
    const rejected = await register(subj, incompatible);
    expect(rejected.status).toBe(409);
    expect(rejected.body.error_code).toBe(409);
    expect(rejected.body.message).toContain(`incompatible with an earlier schema for subject "${subj}"`);
    expect(rejected.body.message).toContain(
      "The field 'email' at path '/fields/1' in the new schema has no default value",
    );

    const quiet = await s.call('POST', `/compatibility/subjects/${subj}/versions/latest`, {
      schema: incompatible,
    });
    expect(quiet.body).toEqual({ is_compatible: false });
    const verbose = await s.call('POST', `/compatibility/subjects/${subj}/versions?verbose=true`, {
      schema: incompatible,
    });
    expect(verbose.body.is_compatible).toBe(false);
    expect(verbose.body.messages[0]).toContain("errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'");
    expect(verbose.body.messages.at(-1)).toBe("{validateFields: 'false', compatibility: 'BACKWARD'}");
    expect((await s.call('POST', `/compatibility/subjects/${subj}/versions/1`, { schema: v2 })).body).toEqual(
      {
        is_compatible: true,
      },
    );
    const absent = await s.call('POST', `/compatibility/subjects/${subj}/versions/7`, { schema: v2 });
    expect([absent.status, absent.body.error_code]).toEqual([404, 40402]);
    expect(
      (await s.call('POST', `/compatibility/subjects/${subject('new')}/versions/latest`, { schema: v2 }))
        .body,
    ).toEqual({ is_compatible: true });
    const invalid = await s.call('POST', `/compatibility/subjects/${subj}/versions?verbose=true`, {
      schema: '{"type":',
    });
    expect(invalid.body.is_compatible).toBe(false);
    expect(invalid.body.messages[0]).toMatch(/not valid JSON/);
  });

  it("soft-deletes, then permanently deletes, versions and subjects with Confluent's error codes", async () => {
    const subj = subject('del');
    await register(subj, v1);
    await register(subj, v2);
    const hard = await s.call('DELETE', `/subjects/${subj}/versions/1?permanent=true`);
    expect([hard.status, hard.body.error_code]).toEqual([404, 40407]);
    expect((await s.call('DELETE', `/subjects/${subj}/versions/1`)).body).toBe(1);
    const again = await s.call('DELETE', `/subjects/${subj}/versions/1`);
    expect([again.status, again.body.error_code]).toEqual([404, 40406]);
    expect((await s.call('GET', `/subjects/${subj}/versions`)).body).toEqual([2]);
    expect((await s.call('GET', `/subjects/${subj}/versions?deleted=true`)).body).toEqual([1, 2]);
    expect((await s.call('GET', `/subjects/${subj}/versions/1`)).body.error_code).toBe(40402);
    expect((await s.call('GET', `/subjects/${subj}/versions/1?deleted=true`)).body.version).toBe(1);
    expect((await s.call('DELETE', `/subjects/${subj}/versions/1?permanent=true`)).body).toBe(1);
    expect((await s.call('GET', `/subjects/${subj}/versions?deleted=true`)).body).toEqual([2]);

    const notSoft = await s.call('DELETE', `/subjects/${subj}?permanent=true`);
    expect([notSoft.status, notSoft.body.error_code]).toEqual([404, 40405]);
    expect((await s.call('DELETE', `/subjects/${subj}`)).body).toEqual([2]);
    const twice = await s.call('DELETE', `/subjects/${subj}`);
    expect([twice.status, twice.body.error_code]).toEqual([404, 40404]);
    expect((await s.call('GET', '/subjects')).body).not.toContain(subj);
    expect((await s.call('GET', '/subjects?deleted=true')).body).toContain(subj);
    // Version numbers go on after soft deletes...
    await register(subj, incompatible);
    expect((await s.call('GET', `/subjects/${subj}/versions`)).body).toEqual([3]);
    // ...and start again once every version is gone for good.
    await s.call('DELETE', `/subjects/${subj}`);
    expect((await s.call('DELETE', `/subjects/${subj}?permanent=true`)).body).toEqual([2, 3]);
    expect((await s.call('GET', `/subjects/${subj}/versions`)).body.error_code).toBe(40401);
    await register(subj, v1);
    expect((await s.call('GET', `/subjects/${subj}/versions`)).body).toEqual([1]);
  });

  it('keeps a referenced schema from being deleted and lists who references it', async () => {
    const address = subject('address');
    const customer = subject('customer');
    const addressSchema = JSON.stringify({
      type: 'record',
      name: 'Address',
      namespace: 'acme',
      fields: [{ name: 'city', type: 'string' }],
    });
    await register(address, addressSchema);
    const customerSchema = JSON.stringify({
      type: 'record',
      name: 'Customer',
      namespace: 'acme',
      fields: [{ name: 'home', type: 'acme.Address' }],
    });
    const { body } = await register(customer, customerSchema, {
      references: [{ name: 'acme.Address', subject: address, version: 1 }],
    });
    expect(body.id).toEqual(expect.any(Number));
    expect((await s.call('GET', `/subjects/${address}/versions/1/referencedby`)).body).toEqual([body.id]);
    const blocked = await s.call('DELETE', `/subjects/${address}/versions/1`);
    expect([blocked.status, blocked.body.error_code]).toEqual([422, 42206]);
    const got = await s.call('GET', `/subjects/${customer}/versions/latest`);
    expect(got.body.references).toEqual([{ name: 'acme.Address', subject: address, version: 1 }]);
    const unresolved = await register(subject('c2'), customerSchema);
    expect([unresolved.status, unresolved.body.error_code]).toEqual([422, 42201]);
    const dangling = await register(subject('c3'), customerSchema, {
      references: [{ name: 'acme.Address', subject: address, version: 9 }],
    });
    expect(dangling.body.error_code).toBe(42201);
  });

  it('keeps global and subject compatibility levels', async () => {
    expect((await s.call('GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    const subj = subject('cfg');
    const unset = await s.call('GET', `/config/${subj}`);
    expect([unset.status, unset.body.error_code]).toEqual([404, 40408]);
    expect((await s.call('GET', `/config/${subj}?defaultToGlobal=true`)).body).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    expect((await s.call('PUT', `/config/${subj}`, { compatibility: 'none' })).body).toEqual({
      compatibility: 'NONE',
    });
    expect((await s.call('GET', `/config/${subj}`)).body).toEqual({ compatibilityLevel: 'NONE' });
    await register(subj, v1);
    expect((await register(subj, incompatible)).status).toBe(200);
    expect((await s.call('DELETE', `/config/${subj}`)).body).toEqual({ compatibilityLevel: 'NONE' });
    expect((await s.call('DELETE', `/config/${subj}`)).body.error_code).toBe(40401);
    const bad = await s.call('PUT', '/config', { compatibility: 'SIDEWAYS' });
    expect([bad.status, bad.body.error_code]).toEqual([422, 42203]);
    expect((await s.call('PUT', '/config', { compatibility: 'FULL' })).body).toEqual({
      compatibility: 'FULL',
    });
    expect((await s.call('GET', '/config')).body).toEqual({ compatibilityLevel: 'FULL' });
    expect((await s.call('DELETE', '/config')).body).toEqual({ compatibilityLevel: 'FULL' });
    expect((await s.call('GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('enforces READONLY and IMPORT modes', async () => {
    const subj = subject('mode');
    const { body } = await register(subj, v1);
    expect((await s.call('GET', '/mode')).body).toEqual({ mode: 'READWRITE' });
    expect((await s.call('GET', `/mode/${subj}`)).body.error_code).toBe(40409);
    expect((await s.call('PUT', `/mode/${subj}`, { mode: 'READONLY' })).body).toEqual({ mode: 'READONLY' });
    const blocked = await register(subj, v2);
    expect([blocked.status, blocked.body.error_code]).toEqual([422, 42205]);
    // Registering what is already there is answered before the mode is looked at, as Confluent does.
    expect((await register(subj, v1)).body).toEqual({ id: body.id });
    expect((await s.call('DELETE', `/subjects/${subj}`)).body.error_code).toBe(42205);
    expect((await s.call('DELETE', `/mode/${subj}`)).body).toEqual({ mode: 'READONLY' });
    expect((await s.call('GET', `/mode/${subj}?defaultToGlobal=true`)).body).toEqual({ mode: 'READWRITE' });
    expect((await s.call('PUT', `/mode/${subj}`, { mode: 'SOMETIMES' })).body.error_code).toBe(42204);

    const busy = await s.call('PUT', `/mode/${subj}`, { mode: 'IMPORT' });
    expect([busy.status, busy.body.error_code]).toEqual([422, 42205]);
    const imported = subject('imported');
    expect((await s.call('PUT', `/mode/${imported}`, { mode: 'IMPORT' })).body).toEqual({ mode: 'IMPORT' });
    const withoutId = await register(imported, v2);
    expect(withoutId.body.error_code).toBe(42205);
    const withId = await register(imported, v2, { id: 5000, version: 7 });
    expect(withId.body).toEqual({ id: 5000 });
    expect((await s.call('GET', `/subjects/${imported}/versions/7`)).body.id).toBe(5000);
    const taken = await register(imported, incompatible, { id: 5000, version: 8 });
    expect(taken.body.error_code).toBe(42205);
    expect((await register(imported, incompatible, { id: 0, version: 8 })).body.error_code).toBe(42201);
    await s.call('DELETE', `/mode/${imported}`);
    // New ids continue after an imported one.
    expect(
      (await register(subject('after-import'), avroRecord('Fresh', [{ name: 'x', type: 'int' }]))).body.id,
    ).toBe(5001);
  });

  it('answers bad requests with Confluent error codes and keeps serving', async () => {
    const subj = subject('bad');
    const cases: Array<[string, string, unknown, number, number, string?]> = [
      ['POST', `/subjects/${subj}/versions`, { schema: '{"type": "recrod", "name": "X"}' }, 422, 42201],
      ['POST', `/subjects/${subj}/versions`, { schema: 'not json' }, 422, 42201],
      ['POST', `/subjects/${subj}/versions`, { schema: '' }, 422, 42201],
      ['POST', `/subjects/${subj}/versions`, { schemaType: 'XML', schema: '<a/>' }, 422, 42201],
      ['POST', `/subjects/${subj}/versions`, { schema: v1, references: 'none' }, 422, 42201],
      ['POST', `/subjects/${subj}/versions`, [1, 2], 422, 42201],
      ['POST', `/subjects/${subj}/versions`, '{"schema": ', 400, 400],
      ['POST', `/subjects/${subj}/versions`, { schema: v1 }, 415, 415, 'text/plain'],
      ['POST', `/subjects/bad%01subject/versions`, { schema: v1 }, 422, 42208],
      ['POST', '/subjects/__GLOBAL/versions', { schema: v1 }, 422, 42208],
      ['GET', `/subjects/${subj}/versions/0`, undefined, 422, 42202],
      ['GET', `/subjects/${subj}/versions/x1`, undefined, 422, 42202],
      ['GET', `/subjects/${subj}/versions/99999999999`, undefined, 422, 42202],
      ['GET', '/schemas/ids/abc', undefined, 404, 40403],
      ['GET', '/schemas/ids/999999', undefined, 404, 40403],
      ['GET', `/subjects/${subj}/versions/1`, undefined, 404, 40401],
      ['PUT', '/mode', { mode: 42 }, 422, 42204],
    ];
    for (const [method, path, body, status, code, type] of cases) {
      const r = await s.call(method, path, body, type);
      expect([path, r.status, r.body.error_code]).toEqual([path, status, code]);
      expect(typeof r.body.message).toBe('string');
      expect(r.type).toContain('application/vnd.schemaregistry.v1+json');
    }
    for (const type of [
      'application/json',
      'application/vnd.schemaregistry+json',
      'application/octet-stream',
      SR_JSON,
    ])
      expect((await s.call('POST', `/subjects/${subj}/versions`, { schema: v1 }, type)).status).toBe(200);
  });

  it('refuses hostile schemas: too deep, too large, unknown types', async () => {
    const subj = subject('hostile');
    let deep: unknown = 'int';
    for (let i = 0; i < 400; i++) deep = { type: 'array', items: deep };
    const tooDeep = await register(subj, JSON.stringify(deep));
    expect([tooDeep.status, tooDeep.body.error_code]).toEqual([422, 42201]);
    expect(tooDeep.body.message).toMatch(/nested deeper/);
    const huge = avroRecord('Huge', [{ name: 'x', type: 'string', default: 'y'.repeat(70 * 1024) }]);
    const tooLarge = await register(subj, huge);
    expect([tooLarge.status, tooLarge.body.error_code]).toEqual([422, 42209]);
    const unknownType = await register(subj, avroRecord('U', [{ name: 'x', type: 'com.nowhere.Missing' }]));
    expect(unknownType.body.error_code).toBe(42201);
    expect(unknownType.body.message).toMatch(/com\.nowhere\.Missing/);
    // avsc takes a record without a name; the specification does not (this answered 500 once).
    const anonymous = await register(subj, JSON.stringify({ type: 'record', fields: [] }));
    expect([anonymous.status, anonymous.body.error_code]).toEqual([422, 42201]);
    expect(anonymous.body.message).toMatch(/needs a "name"/);
    expect((await s.call('GET', `/subjects/${subj}/versions`)).body.error_code).toBe(40401);
    expect((await register(subj, v1)).status).toBe(200);
  });

  it('refuses a Protobuf import that is neither a reference nor a well-known type', async () => {
    const subj = subject('proto-import');
    for (const imported of ['/etc/passwd', 'other.proto', '../../secret.proto']) {
      const response = await s.call('POST', `/subjects/${subj}/versions`, {
        schemaType: 'PROTOBUF',
        schema: `syntax = "proto3";\nimport "${imported}";\nmessage M { string a = 1; }\n`,
      });
      expect([response.status, response.body.error_code]).toEqual([422, 42201]);
      expect(response.body.message).toContain(`import "${imported}" is neither a reference`);
    }
    const wellKnown = await s.call('POST', `/subjects/${subj}/versions`, {
      schemaType: 'PROTOBUF',
      schema:
        'syntax = "proto3";\nimport "google/protobuf/timestamp.proto";\nmessage M { google.protobuf.Timestamp at = 1; }\n',
    });
    expect(wellKnown.status).toBe(200);
  });

  it('survives a flood of concurrent registrations with distinct, dense ids', async () => {
    await s.call('PUT', '/config', { compatibility: 'NONE' });
    const before = s.registry.maxId();
    const schemas = Array.from({ length: 150 }, (_, i) =>
      avroRecord(`Flood${i}`, [{ name: 'f', type: 'int' }]),
    );
    const results = await Promise.all(schemas.map((schema, i) => register(`flood-${i % 5}`, schema)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const ids = results.map((r) => r.body.id as number);
    expect(new Set(ids).size).toBe(150);
    expect(Math.min(...ids)).toBe(before + 1);
    expect(Math.max(...ids)).toBe(before + 150);
    for (let i = 0; i < 5; i++)
      expect((await s.call('GET', `/subjects/flood-${i}/versions`)).body).toEqual(
        Array.from({ length: 30 }, (_, v) => v + 1),
      );
    await s.call('DELETE', '/config');
  });
});

describe('schema width, at the default size limit', () => {
  let wideServer: RegistryServer;
  beforeAll(async () => {
    wideServer = await startRegistryServer();
  });
  afterAll(async () => wideServer.close());

  it('takes a JSON Schema 10,000 properties wide, and names width, not depth, beyond its limit', async () => {
    const subj = 'wide-value';
    const wide = (n: number) => ({
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, { type: 'string' }])),
    });
    const accepted = await wideServer.call('POST', `/subjects/${subj}/versions`, {
      schemaType: 'JSON',
      schema: JSON.stringify(wide(10_000)),
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    const tooWide = await wideServer.call('POST', `/subjects/${subj}-2/versions`, {
      schemaType: 'JSON',
      schema: JSON.stringify(wide(25_000)),
    });
    expect([tooWide.status, tooWide.body.error_code]).toEqual([422, 42201]);
    expect(tooWide.body.message).toMatch(/25000 members, more than 20000/);
    expect(tooWide.body.message).not.toMatch(/deep/);
  });
});
