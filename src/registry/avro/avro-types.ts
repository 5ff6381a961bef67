import type { Type } from 'avsc';

/** The Avro type a parsed avsc type stands for (avsc distinguishes union flavours and error records). */
export type AvroKind =
  | 'null'
  | 'boolean'
  | 'int'
  | 'long'
  | 'float'
  | 'double'
  | 'bytes'
  | 'string'
  | 'record'
  | 'enum'
  | 'fixed'
  | 'array'
  | 'map'
  | 'union';

export interface AvroField {
  name: string;
  type: Type;
  aliases: string[];
  defaultValue(): unknown;
}

export function avroKind(type: Type): AvroKind {
  const name = type.typeName;
  if (name.startsWith('union')) return 'union';
  if (name === 'error') return 'record';
  if (name.startsWith('logical:'))
    return avroKind((type as unknown as { underlyingType: Type }).underlyingType);
  return name as AvroKind;
}

export function fieldsOf(type: Type): readonly AvroField[] {
  return (type as unknown as { fields: AvroField[] }).fields;
}

export function simpleName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}
