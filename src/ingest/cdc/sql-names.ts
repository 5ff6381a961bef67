/** SQL identifiers and literals, quoted for statements that take no parameters (replication commands, DDL). */

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
