import { RecordInvalidError } from './errors.ts';

/**
 * Confluent's wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the
 * encoded payload. Protobuf payloads carry the message indexes between the id and the message.
 */
export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export function frame(id: number, payload: Uint8Array, indexes?: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + (indexes?.length ?? 0) + payload.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(id, 1);
  let at = HEADER_BYTES;
  if (indexes) {
    out.set(indexes, at);
    at += indexes.length;
  }
  out.set(payload, at);
  return out;
}

/** The schema id a framed record names. */
export function schemaIdOf(bytes: Uint8Array | null): number {
  if (bytes === null || bytes.length < HEADER_BYTES)
    throw new RecordInvalidError(
      `${bytes === null ? 'A null value' : `${bytes.length} bytes`} cannot hold Confluent wire format (magic byte and a 4-byte schema id)`,
    );
  if (bytes[0] !== MAGIC_BYTE)
    throw new RecordInvalidError(`Unknown magic byte ${bytes[0]}: not Confluent wire format (expected 0)`);
  return ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
}

/**
 * Protobuf message indexes: the path to the message in its file (e.g. [1, 0] is the first nested
 * message of the second top-level message), as a zigzag varint count followed by zigzag varint
 * indexes. The common [0] is written as a single 0 byte, as Confluent's serializers do.
 */
export function encodeMessageIndexes(indexes: readonly number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.of(0);
  const bytes: number[] = [];
  writeZigzag(bytes, indexes.length);
  for (const index of indexes) writeZigzag(bytes, index);
  return Buffer.from(bytes);
}

/**
 * Reads message indexes at `offset`; returns them with the offset just after them. Some producers
 * (@kafkajs/confluent-schema-registry among them) leave the indexes out. Their payload then starts
 * with a field tag, which reads as a negative count or index: that is taken as [0] with nothing
 * consumed, as Confluent's own JavaScript deserializer does.
 */
export function decodeMessageIndexes(bytes: Uint8Array, offset: number): { indexes: number[]; next: number } {
  let at = offset;
  const read = (): number => {
    let shift = 0;
    let value = 0;
    for (;;) {
      if (at >= bytes.length) throw new RecordInvalidError('Truncated Protobuf message indexes');
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new RecordInvalidError('Protobuf message index varint is too long');
    }
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  };
  const absent = { indexes: [0], next: offset };
  const count = read();
  if (count === 0) return { indexes: [0], next: at };
  if (count < 0 || count > 100) return absent;
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) {
    const index = read();
    if (index < 0) return absent;
    indexes.push(index);
  }
  return { indexes, next: at };
}

function writeZigzag(out: number[], n: number): void {
  let value = n >= 0 ? n * 2 : -n * 2 - 1;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}
