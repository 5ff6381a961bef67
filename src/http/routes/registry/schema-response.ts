import type { SchemaReference, SchemaType } from '../../../registry/index.ts';

/** Confluent leaves `schemaType` out for Avro and `references` out when there are none. */
export function schemaFields(v: { schemaType: SchemaType; schema: string; references: SchemaReference[] }) {
  return {
    ...(v.schemaType === 'AVRO' ? {} : { schemaType: v.schemaType }),
    ...(v.references.length === 0 ? {} : { references: v.references }),
    schema: v.schema,
  };
}
