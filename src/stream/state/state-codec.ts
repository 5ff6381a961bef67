import { addExtension, Packr } from 'msgpackr';
import { toBufferKey } from 'ordered-binary';

/**
 * How operators write their state: values as MessagePack (msgpackr: about twice as fast as JSON
 * here, and it keeps -Infinity, undefined and binary data), keys as ordered-binary tuples, which
 * sort as their parts do (numbers by value, then strings), so a scan walks windows in time order.
 */
const packr = new Packr({ useRecords: false, moreTypes: true });

export function encodeState(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeState<T>(bytes: Buffer): T {
  return packr.unpack(bytes) as T;
}

/** A key from its parts, copied out of ordered-binary's shared buffer. */
export function stateKey(parts: ReadonlyArray<number | string>): Buffer {
  return Buffer.from(toBufferKey(parts as Array<number | string>));
}

/**
 * The keys that extend a prefix, as [from, to) for a range scan: ordered-binary puts a 0 byte
 * between a tuple's parts, so every longer key with these first parts sorts in [prefix 0, prefix 1).
 */
export function stateKeyRange(prefix: ReadonlyArray<number | string>): [Buffer, Buffer] {
  const key = stateKey(prefix);
  return [Buffer.concat([key, ZERO]), Buffer.concat([key, ONE])];
}
const ZERO = Buffer.from([0]);
const ONE = Buffer.from([1]);

/**
 * Registers how a class an accumulator holds is stored (msgpackr's extensions): `write` gives
 * plain data, `read` builds the object again. `type` is 1..100, one per class.
 */
export function stateType<T>(
  type: number,
  Class: new (...args: never[]) => T,
  write: (value: T) => unknown,
  read: (data: never) => T,
): void {
  addExtension({
    Class,
    type,
    write: write as (v: unknown) => unknown,
    read: read as (d: unknown) => unknown,
  });
}
