import { describe, expect, it } from 'vitest';
import { binaryOf, paramFromBinary } from '../../src/serve/pg-wire/pg-binary.ts';

const hex = (b: Buffer) => b.toString('hex');

describe("PostgreSQL's binary format", () => {
  it('writes the bytes PostgreSQL sends for each type', () => {
    expect(hex(binaryOf('-2', 20))).toBe('fffffffffffffffe');
    expect(hex(binaryOf('7', 23))).toBe('00000007');
    expect(hex(binaryOf('2.5', 701))).toBe('4004000000000000');
    expect(hex(binaryOf('t', 16))).toBe('01');
    // Microseconds since 2000-01-01, two's complement before it.
    expect(binaryOf('2000-01-01 00:00:01.5', 1114).readBigInt64BE(0)).toBe(1_500_000n);
    expect(binaryOf('1970-01-01 00:00:00', 1114).readBigInt64BE(0)).toBe(-946_684_800_000_000n);
    expect(binaryOf('2000-01-02', 1082).readInt32BE(0)).toBe(1);
    // NUMERIC 123.45: 2 digits, weight 0, positive, scale 2, base-10000 digits 123 and 4500.
    expect(hex(binaryOf('123.45', 1700))).toBe('0002000000000002007b1194');
    expect(hex(binaryOf('-0.0001', 1700))).toBe('0001ffff400000040001');
    expect(hex(binaryOf('10000', 1700))).toBe('0001000100000000' + '0001');
    expect(hex(binaryOf('0', 1700))).toBe('0000000000000000');
    expect(hex(binaryOf('{"a":1}', 3802))).toBe(`01${Buffer.from('{"a":1}').toString('hex')}`);
    expect(hex(binaryOf('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 2950))).toBe(
      'a0eebc999c0b4ef8bb6d6bb9bd380a11',
    );
  });

  it('reads parameters back to the text a query casts', () => {
    for (const [text, oid, back] of [
      ['-2', 20, '-2'],
      ['7', 23, '7'],
      ['-3', 21, '-3'],
      ['2.5', 701, '2.5'],
      ['t', 16, 'true'],
      ['1970-01-01 00:01:00.25', 1114, '1970-01-01 00:01:00.250000'],
      ['2026-12-02 10:00:00', 1184, '2026-12-02 10:00:00.000000+00'],
      ['1999-12-31', 1082, '1999-12-31'],
      ['123.45', 1700, '123.45'],
      ['-0.0001', 1700, '-0.0001'],
      ['10000', 1700, '10000'],
      ['0.50', 1700, '0.50'],
      ['hello', 25, 'hello'],
      ['{"a":1}', 3802, '{"a":1}'],
      ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 2950, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ] as const)
      expect(paramFromBinary(binaryOf(text, oid), oid, 1), `${text} (${oid})`).toBe(back);
  });

  it('refuses a parameter of the wrong size or of a type it cannot read, naming it', () => {
    expect(() => paramFromBinary(Buffer.alloc(3), 23, 2)).toThrow(/\$2 of type 23 has 3 bytes/);
    expect(() => paramFromBinary(Buffer.alloc(4), 600, 1)).toThrow(/OID 600/);
    expect(() => paramFromBinary(Buffer.alloc(5), 1700, 1)).toThrow(/not a NUMERIC/);
  });
});
