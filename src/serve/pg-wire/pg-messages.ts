/**
 * The backend messages of PostgreSQL's wire protocol (v3) that a read-only server sends, and the
 * frontend messages of the extended query protocol it reads. Written by hand: pg-protocol serializes
 * only the frontend side, and pg-gateway 0.2 mis-frames pipelined messages (see pg-server.ts).
 * See https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** A column of a result: its name and its type's OID. */
export interface PgField {
  name: string;
  oid: number;
}

function message(code: string, body: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head.write(code, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const cstring = (s: string) => Buffer.from(`${s}\0`, 'utf8');
const int16 = (n: number) => {
  const b = Buffer.allocUnsafe(2);
  b.writeInt16BE(n, 0);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
};

export const parameterStatus = (name: string, value: string) =>
  message('S', Buffer.concat([cstring(name), cstring(value)]));
export const backendKeyData = (pid: number, secret: number) =>
  message('K', Buffer.concat([int32(pid), int32(secret)]));
export const readyForQuery = (status: 'I' | 'T' | 'E' = 'I') => message('Z', Buffer.from(status, 'latin1'));
export const commandComplete = (tag: string) => message('C', cstring(tag));
export const emptyQueryResponse = () => message('I', Buffer.alloc(0));
export const parseComplete = () => message('1', Buffer.alloc(0));
export const bindComplete = () => message('2', Buffer.alloc(0));
export const closeComplete = () => message('3', Buffer.alloc(0));
export const noData = () => message('n', Buffer.alloc(0));
export const parameterDescription = (oids: number[]) =>
  message('t', Buffer.concat([int16(oids.length), ...oids.map(int32)]));

/** The columns of a result; `formats[i]` is column i's format code (0 text, 1 binary). */
export function rowDescription(fields: PgField[], formats: readonly number[] = []): Buffer {
  const parts = [int16(fields.length)];
  // name, table oid, column number, type oid, type size, type modifier, format
  for (const [i, f] of fields.entries())
    parts.push(
      cstring(f.name),
      int32(0),
      int16(0),
      int32(f.oid),
      int16(-1),
      int32(-1),
      int16(formats[i] ?? 0),
    );
  return message('T', Buffer.concat(parts));
}

/** One row: text values as UTF-8, binary ones as they are. */
export function dataRow(values: ReadonlyArray<string | Buffer | null>): Buffer {
  const parts: Buffer[] = [int16(values.length)];
  for (const v of values) {
    if (v === null) parts.push(int32(-1));
    else {
      const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      parts.push(int32(bytes.length), bytes);
    }
  }
  return message('D', Buffer.concat(parts));
}

/** An ErrorResponse: severity, SQLSTATE and message, as every driver reads them. */
export function errorResponse(code: string, text: string, severity: 'ERROR' | 'FATAL' = 'ERROR'): Buffer {
  return message(
    'E',
    Buffer.concat([
      Buffer.from('S', 'latin1'),
      cstring(severity),
      Buffer.from('V', 'latin1'),
      cstring(severity),
      Buffer.from('C', 'latin1'),
      cstring(code),
      Buffer.from('M', 'latin1'),
      cstring(text),
      Buffer.from([0]),
    ]),
  );
}

/** Reads the fields of one frontend message body in order. */
export class MessageReader {
  readonly #data: Buffer;
  #at: number;

  constructor(data: Buffer, at = 0) {
    this.#data = data;
    this.#at = at;
  }

  cstring(): string {
    const end = this.#data.indexOf(0, this.#at);
    if (end < 0) throw new RangeError('a string runs past the end of the message');
    const s = this.#data.toString('utf8', this.#at, end);
    this.#at = end + 1;
    return s;
  }

  int16(): number {
    const v = this.#data.readInt16BE(this.#at);
    this.#at += 2;
    return v;
  }

  int32(): number {
    const v = this.#data.readInt32BE(this.#at);
    this.#at += 4;
    return v;
  }

  byte(): string {
    return String.fromCharCode(this.#data[this.#at++]!);
  }

  bytes(n: number): Buffer {
    if (this.#at + n > this.#data.length) throw new RangeError('a value runs past the end of the message');
    const b = this.#data.subarray(this.#at, this.#at + n);
    this.#at += n;
    return b;
  }
}
