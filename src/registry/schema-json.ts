import { RegistryErrors } from './errors.ts';

/** Deeper than any schema a person writes, shallow enough that the recursive checks cannot overflow the stack. */
export const MAX_SCHEMA_DEPTH = 256;

/** Parses schema text that is JSON (Avro, JSON Schema), refusing nesting deeper than MAX_SCHEMA_DEPTH. */
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
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return value;
}
