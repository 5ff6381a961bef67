import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, type ProducerRecord } from '../../src/core/index.ts';
import { type DeadLetter, deadLetterRecord, MAX_SCANNED_RECORDS } from '../../src/stream/index.ts';
import { startTestServer, type TestServer } from './http-helpers.ts';

const DLQ = 'dead-letters';

/** A letter as the pipeline runtime writes it (deadLetterRecord is what it calls). */
function letter(over: Partial<DeadLetter>): ProducerRecord {
  return deadLetterRecord(DLQ, {
    reason: 'decode',
    pipeline: 'revenue',
    step: 'source',
    errorClass: 'SyntaxError',
    message: 'Unexpected token',
    topic: 'payments',
    partition: 0,
    offset: 0,
    key: null,
    value: Buffer.from('not json'),
    kind: 'record',
    ...over,
  });
}

interface Letter {
  offset: number;
  kind: string;
  reason: string;
  pipeline: string;
  message: string;
  source: { topic: string; partition: number; offset: number };
  key: string | null;
  value: string | null;
  headers: Array<{ name: string; value: string }>;
}
interface Page {
  next: number;
  end: number;
  partitions: number;
  letters: Letter[];
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('GET /v1/topics/{topic}/dead-letters and its replay', () => {
  let s: TestServer;
  /** Without keys, for topics the test keys do not name. */
  let open: TestServer;
  const keys = { reader: generateApiKey(), replayer: generateApiKey() };

  beforeAll(async () => {
    s = await startTestServer({
      keys: [
        { name: 'reader', hash: hashApiKey(keys.reader), scopes: [`consume:${DLQ}`] },
        { name: 'replayer', hash: hashApiKey(keys.replayer), scopes: [`consume:${DLQ}`, 'produce:payments'] },
      ],
    });
    open = await startTestServer();
    await s.bus.createTopic(DLQ, { partitions: 1 });
    await s.bus.createTopic('payments', { partitions: 1 });
    const producer = s.bus.producer({ transactionalId: 'dlq-test' });
    await producer.send([
      // 0: a decode letter with a key and the source record's own header.
      letter({ key: Buffer.from('k0'), offset: 7, headers: { trace: Buffer.from('t-7') } }),
      // 1: not a dead letter at all (someone wrote to the topic by hand).
      { topic: DLQ, key: null, value: Buffer.from('plain') },
      // 2: an error of another pipeline, with bytes that are not text.
      letter({
        reason: 'error',
        pipeline: 'fraud',
        step: 'map-1',
        errorClass: 'RangeError',
        message: 'negative',
        offset: 8,
        value: Buffer.from([0xff, 0x00, 0xfe]),
      }),
      // 3: a window's result, which replay refuses.
      letter({ reason: 'error', kind: 'result', partition: -1, offset: -1, value: Buffer.from('{"n":1}') }),
      // 4: from one of Kappa's own topics (a later stage's repartition topic).
      letter({ reason: 'late', topic: 'kappa-repartition-revenue-1', offset: 3 }),
      // 5: from a topic deleted since.
      letter({ topic: 'gone', offset: 4 }),
    ]);
    // An aborted letter is never shown.
    const txn = await producer.beginTransaction();
    await txn.send([letter({ message: 'aborted' })]);
    await txn.abort();
    await producer.close();
  });
  afterAll(async () => {
    await s?.close();
    await open?.close();
  });

  const get = async (url: string, key: string = keys.reader) => {
    const response = await s.app.inject({ url, headers: { authorization: `Bearer ${key}` } });
    return { status: response.statusCode, body: response.json() as Page & { message?: string } };
  };
  const replay = async (body: unknown, key: string = keys.replayer, raw?: string) => {
    const response = await s.app.inject({
      method: 'POST',
      url: `/v1/topics/${DLQ}/dead-letters/replay`,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: raw ?? JSON.stringify(body),
    });
    return {
      status: response.statusCode,
      body: response.json() as {
        replayed: Array<{ offset: number; topic: string; at: number }>;
        refused: Array<{ offset: number; why: string }>;
        message?: string;
      },
    };
  };

  it('reads the letters a page at a time, oldest first, passing over what is not a letter', async () => {
    const seen: Letter[] = [];
    let from = 0;
    let pages = 0;
    for (;;) {
      const { status, body } = await get(`/v1/topics/${DLQ}/dead-letters?from=${from}&limit=2`);
      expect(status).toBe(200);
      expect(body.partitions).toBe(1);
      seen.push(...body.letters);
      pages++;
      if (body.next >= body.end) break;
      expect(body.next).toBeGreaterThan(from);
      from = body.next;
    }
    expect(pages).toBe(3);
    expect(seen.map((l) => l.offset)).toEqual([0, 2, 3, 4, 5]);
    expect(seen[0]).toMatchObject({
      kind: 'record',
      reason: 'decode',
      pipeline: 'revenue',
      source: { topic: 'payments', partition: 0, offset: 7 },
      key: b64('k0'),
      value: b64('not json'),
      headers: [{ name: 'trace', value: b64('t-7') }],
    });
    expect(seen[1]).toMatchObject({ reason: 'error', pipeline: 'fraud', value: '/wD+' });
    expect(seen[2]).toMatchObject({ kind: 'result', source: { partition: -1 } });
    expect(seen.some((l) => l.message === 'aborted')).toBe(false);
  });

  it('filters by pipeline and by reason', async () => {
    const offsets = async (query: string) =>
      (await get(`/v1/topics/${DLQ}/dead-letters?${query}`)).body.letters.map((l) => l.offset);
    expect(await offsets('pipeline=fraud')).toEqual([2]);
    expect(await offsets('reason=error')).toEqual([2, 3]);
    expect(await offsets('pipeline=revenue&reason=decode')).toEqual([0, 5]);
    expect(await offsets('pipeline=nobody')).toEqual([]);
  });

  it('looks at a bounded number of records per page, and says where to go on', async () => {
    await open.bus.createTopic('long-letters', { partitions: 1 });
    const producer = open.bus.producer();
    await producer.send([
      ...Array.from({ length: MAX_SCANNED_RECORDS + 10 }, () => ({
        topic: 'long-letters',
        key: null,
        value: Buffer.from('x'),
      })),
      { ...letter({ pipeline: 'rare' }), topic: 'long-letters' },
    ]);
    await producer.close();
    const read = async (query: string) =>
      (await open.app.inject({ url: `/v1/topics/long-letters/dead-letters?${query}` })).json() as Page;
    const page = await read('pipeline=rare');
    expect(page.letters).toEqual([]);
    expect(page.next).toBe(MAX_SCANNED_RECORDS);
    expect(page.end).toBe(MAX_SCANNED_RECORDS + 11);
    const rest = await read(`pipeline=rare&from=${page.next}`);
    expect(rest.letters.map((l) => l.offset)).toEqual([MAX_SCANNED_RECORDS + 10]);
    expect(rest.next).toBe(rest.end);
    // Offsets far apart are each found (that letter's source topic is not on this server).
    const replayed = await open.app.inject({
      method: 'POST',
      url: '/v1/topics/long-letters/dead-letters/replay',
      payload: { offsets: [MAX_SCANNED_RECORDS + 10, 5] },
    });
    expect(replayed.json()).toEqual({
      replayed: [],
      refused: [
        { offset: MAX_SCANNED_RECORDS + 10, why: 'its source topic payments does not exist (any more)' },
        { offset: 5, why: 'no dead letter at offset 5 of long-letters/0' },
      ],
    });
  });

  it('refuses malformed queries with a clear error, and goes on serving', async () => {
    for (const [query, status, message] of [
      ['limit=0', 400, /limit must be an integer from 1 to 1000/],
      ['limit=5000', 400, /limit/],
      ['limit=abc', 400, /limit/],
      ['from=-1', 400, /from must be an integer/],
      ['partition=7', 404, /Partition 7 of topic 'dead-letters' does not exist/],
      ['reason=bogus', 400, /reason must be one of decode, error, late/],
    ] as const) {
      const { status: got, body } = await get(`/v1/topics/${DLQ}/dead-letters?${query}`);
      expect(got, query).toBe(status);
      expect(body.message, query).toMatch(message);
    }
    const unknown = await open.app.inject({ url: '/v1/topics/nothing-here/dead-letters' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toMatch(/nothing-here/);
    expect((await get(`/v1/topics/${DLQ}/dead-letters`)).status).toBe(200);
  });

  it('replays record letters with their own headers, and refuses the rest, each with why', async () => {
    const before = (await s.bus.partitionOffsets('payments'))[0]!.end;
    const { status, body } = await replay({ offsets: [0, 1, 3, 4, 5, 99, 0] });
    expect(status).toBe(200);
    expect(body.replayed).toEqual([{ offset: 0, topic: 'payments', partition: 0, at: before }]);
    expect(Object.fromEntries(body.refused.map((r) => [r.offset, r.why]))).toEqual({
      1: 'no dead letter at offset 1 of dead-letters/0',
      3: "a window result, not a record of a source topic: replay the pipeline's input instead",
      4: "its source kappa-repartition-revenue-1 is one of Kappa's own topics, which no request writes",
      5: 'its source topic gone does not exist (any more)',
      99: 'no dead letter at offset 99 of dead-letters/0',
    });
    const consumer = s.bus.consumer({});
    await consumer.assign([{ topic: 'payments', partition: 0, offset: before }]);
    const [back] = await consumer.poll({ timeoutMs: 1000 });
    await consumer.close();
    expect(back!.key?.toString()).toBe('k0');
    expect(back!.value?.toString()).toBe('not json');
    expect(Object.keys(back!.headers)).toEqual(['trace']);
    expect(back!.headers.trace!.toString()).toBe('t-7');
  });

  it('replays nothing for a key that may not write a source topic', async () => {
    const before = (await s.bus.partitionOffsets('payments'))[0]!.end;
    const { status, body } = await replay({ offsets: [0] }, keys.reader);
    expect(status).toBe(403);
    expect(body.message).toMatch(/replaying to payments needs produce:payments/);
    expect((await s.bus.partitionOffsets('payments'))[0]!.end).toBe(before);
  });

  it('refuses malformed replay bodies, writing nothing', async () => {
    const before = (await s.bus.partitionOffsets('payments'))[0]!.end;
    for (const [body, message] of [
      [{}, /The body must be \{"offsets"/],
      [{ offsets: 'all' }, /The body must be/],
      [{ offsets: ['0'] }, /The body must be/],
      [{ offsets: [-1] }, /The body must be/],
      [{ offsets: [1.5] }, /The body must be/],
      [{ offsets: [] }, /offsets must name 1 to 1000 dead letters, got 0/],
      [{ offsets: Array.from({ length: 1001 }, (_, i) => i) }, /got 1001/],
      [{ offsets: [0], partition: -1 }, /partition must be an integer/],
      [null, /The body must be/],
    ] as const) {
      const { status, body: answer } = await replay(body);
      expect(status, JSON.stringify(body)).toBe(422);
      expect(answer.message).toMatch(message);
    }
    expect((await replay(undefined, keys.replayer, '{"offsets": [0')).status).toBe(400);
    expect((await replay({ offsets: [0], partition: 3 })).status).toBe(404);
    expect((await s.bus.partitionOffsets('payments'))[0]!.end).toBe(before);
  });
});
