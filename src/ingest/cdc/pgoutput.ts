import { CdcReplicationError } from './cdc-errors.ts';

/**
 * PostgreSQL's `pgoutput` logical decoding messages (protocol version 1), decoded to column values
 * in their text form. Written by hand: pg-logical-replication's parser runs every value through
 * node-pg's type parsers (timestamps lose their microseconds, numerics their form) and cannot tell
 * an unchanged TOAST value from a missing one, and Debezium's envelope needs both exactly.
 * https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */

/** A column as a Relation message describes it. */
export interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  /** Part of the replica identity (the primary key unless REPLICA IDENTITY says otherwise). */
  key: boolean;
}

export interface Relation {
  oid: number;
  schema: string;
  table: string;
  /** d(efault: the primary key), n(othing), f(ull: every column), i(ndex). */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: RelationColumn[];
}

/** A TOAST value the update did not change: pgoutput does not send it again. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged TOAST value');
export type ColumnValue = string | null | typeof UNCHANGED_TOAST;
/** A row as pgoutput sends it: one text value per column of its relation, in order. */
export type Tuple = ColumnValue[];

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTimeMicros: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTimeMicros: bigint }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'type'; oid: number; schema: string; name: string }
  | { tag: 'origin'; lsn: bigint; name: string }
  | { tag: 'insert'; relation: Relation; after: Tuple }
  /** `before` is the old row with REPLICA IDENTITY FULL, its key columns when the key changed, else null. */
  | { tag: 'update'; relation: Relation; before: Tuple | null; beforeKeyOnly: boolean; after: Tuple }
  | { tag: 'delete'; relation: Relation; before: Tuple; beforeKeyOnly: boolean }
  | { tag: 'truncate'; relations: Relation[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'message'; transactional: boolean; lsn: bigint; prefix: string; content: Buffer };

/** A message the decoder cannot read: the stream is not pgoutput v1, or a relation came unannounced. */
export class PgOutputError extends CdcReplicationError {}

/** Decodes one connection's messages; it keeps the relations announced so far. */
export class PgOutputDecoder {
  readonly #relations = new Map<number, Relation>();

  decode(data: Buffer): PgOutputMessage {
    const r = new Reader(data);
    const tag = String.fromCharCode(r.uint8());
    switch (tag) {
      case 'B':
        return { tag: 'begin', finalLsn: r.int64(), commitTimeMicros: r.int64(), xid: r.uint32() };
      case 'C': {
        r.uint8(); // flags, unused
        return { tag: 'commit', commitLsn: r.int64(), endLsn: r.int64(), commitTimeMicros: r.int64() };
      }
      case 'O':
        return { tag: 'origin', lsn: r.int64(), name: r.cstring() };
      case 'Y':
        return { tag: 'type', oid: r.uint32(), schema: r.cstring(), name: r.cstring() };
      case 'R': {
        const oid = r.uint32();
        const schema = r.cstring();
        const table = r.cstring();
        const replicaIdentity = String.fromCharCode(r.uint8()) as Relation['replicaIdentity'];
        const columns = Array.from({ length: r.int16() }, () => {
          const flags = r.uint8();
          return { key: (flags & 1) === 1, name: r.cstring(), typeOid: r.uint32(), typeMod: r.int32() };
        });
        const relation = { oid, schema, table, replicaIdentity, columns };
        this.#relations.set(oid, relation);
        return { tag: 'relation', relation };
      }
      case 'I': {
        const relation = this.#relation(r.uint32());
        r.expect('N');
        return { tag: 'insert', relation, after: r.tuple() };
      }
      case 'U': {
        const relation = this.#relation(r.uint32());
        const kind = String.fromCharCode(r.uint8());
        if (kind === 'N')
          return { tag: 'update', relation, before: null, beforeKeyOnly: false, after: r.tuple() };
        if (kind !== 'K' && kind !== 'O')
          throw new PgOutputError(`Unexpected '${kind}' in an Update message`);
        const before = r.tuple();
        r.expect('N');
        return { tag: 'update', relation, before, beforeKeyOnly: kind === 'K', after: r.tuple() };
      }
      case 'D': {
        const relation = this.#relation(r.uint32());
        const kind = String.fromCharCode(r.uint8());
        if (kind !== 'K' && kind !== 'O') throw new PgOutputError(`Unexpected '${kind}' in a Delete message`);
        return { tag: 'delete', relation, before: r.tuple(), beforeKeyOnly: kind === 'K' };
      }
      case 'T': {
        const count = r.uint32();
        const options = r.uint8();
        const relations = Array.from({ length: count }, () => this.#relation(r.uint32()));
        return {
          tag: 'truncate',
          relations,
          cascade: (options & 1) === 1,
          restartIdentity: (options & 2) === 2,
        };
      }
      case 'M': {
        const flags = r.uint8();
        const lsn = r.int64();
        const prefix = r.cstring();
        return {
          tag: 'message',
          transactional: (flags & 1) === 1,
          lsn,
          prefix,
          content: r.bytes(r.uint32()),
        };
      }
      default:
        throw new PgOutputError(
          `Unknown pgoutput message '${tag}' (is the slot's plugin pgoutput, protocol 1?)`,
        );
    }
  }

  #relation(oid: number): Relation {
    const relation = this.#relations.get(oid);
    if (!relation) throw new PgOutputError(`Relation ${oid} was used before it was described`);
    return relation;
  }
}

class Reader {
  readonly #b: Buffer;
  #at = 0;

  constructor(b: Buffer) {
    this.#b = b;
  }

  #need(n: number): void {
    if (this.#at + n > this.#b.length) throw new PgOutputError('A pgoutput message ends early');
  }
  uint8(): number {
    this.#need(1);
    return this.#b[this.#at++]!;
  }
  int16(): number {
    this.#need(2);
    const v = this.#b.readInt16BE(this.#at);
    this.#at += 2;
    return v;
  }
  int32(): number {
    this.#need(4);
    const v = this.#b.readInt32BE(this.#at);
    this.#at += 4;
    return v;
  }
  uint32(): number {
    this.#need(4);
    const v = this.#b.readUInt32BE(this.#at);
    this.#at += 4;
    return v;
  }
  int64(): bigint {
    this.#need(8);
    const v = this.#b.readBigInt64BE(this.#at);
    this.#at += 8;
    return v;
  }
  bytes(n: number): Buffer {
    this.#need(n);
    const v = this.#b.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
  cstring(): string {
    const end = this.#b.indexOf(0, this.#at);
    if (end < 0) throw new PgOutputError('A pgoutput string is not terminated');
    const v = this.#b.toString('utf8', this.#at, end);
    this.#at = end + 1;
    return v;
  }
  expect(kind: string): void {
    const got = String.fromCharCode(this.uint8());
    if (got !== kind) throw new PgOutputError(`Expected '${kind}' in a pgoutput message, got '${got}'`);
  }
  tuple(): Tuple {
    return Array.from({ length: this.int16() }, () => {
      const kind = String.fromCharCode(this.uint8());
      if (kind === 'n') return null;
      if (kind === 'u') return UNCHANGED_TOAST;
      if (kind === 't') return this.bytes(this.uint32()).toString('utf8');
      throw new PgOutputError(`Column data of kind '${kind}' (binary mode is not asked for)`);
    });
  }
}

/** An LSN in PostgreSQL's text form, `X/Y` in hex. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new PgOutputError(`'${text}' is not an LSN`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}
