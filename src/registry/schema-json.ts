import { RegistryErrors } from './errors.ts';

/** Deeper than any schema a person writes, shallow enough that the recursive checks cannot overflow the stack. */
export const MAX_SCHEMA_DEPTH = 256;

/** Most members of one object or array: 10,000-field records are real; a million would stall compilation. */
export const MAX_SCHEMA_WIDTH = 20_000;

/**
 * Parses schema text that is JSON (Avro, JSON Schema), refusing nesting deeper than MAX_SCHEMA_DEPTH
 * and objects or arrays wider than MAX_SCHEMA_WIDTH, each with its own message.
 */
export function parseSchemaJson(text: string, language: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw RegistryErrors.invalidSchema(
      `${language} schema is not valid JSON: ${(error as Error).message}`,
      error,
    );
  }
  // Iterative on purpose: a hostile schema must not get to overflow the stack here either.
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_SCHEMA_DEPTH)
      throw RegistryErrors.invalidSchema(
        `${language} schema is nested deeper than ${MAX_SCHEMA_DEPTH} levels`,
      );
    const children = Object.values(node);
    if (children.length > MAX_SCHEMA_WIDTH)
      throw RegistryErrors.invalidSchema(
        `${language} schema has an object or array of ${children.length} members, more than ${MAX_SCHEMA_WIDTH}`,
      );
    for (const child of children) stack.push([child, depth + 1]);
  }
  return value;
}
