import { z } from 'zod';
import { configSchema } from './schema.ts';

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  pattern?: string;
}

/**
 * docs/config.md, made from the config schema itself (its `.describe()` texts and defaults), so the
 * reference cannot drift from the code: a test compares the file with this.
 */
export function renderConfigDocs(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const out: string[] = [
    '# Config reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; edit the schema, not this file. -->',
    '',
    'Kappa reads `kappa.config.ts` (or `.js`, `.mjs`, `.yaml`, `.yml`, `.json`) from the folder it starts in,',
    'or the file `--config` names. Every key may be left out: the defaults give the embedded shape. In',
    'TypeScript, `defineConfig` types the file:',
    '',
    '```ts',
    "import { defineConfig } from 'kappa';",
    '',
    'export default defineConfig({ topics: { autoCreate: true }, http: { port: 8080 } });',
    '```',
    '',
    'Paths are relative to the config file. Durations are milliseconds or strings such as `250ms`, `30s`,',
    '`5m`, `2h`, `7d`. Command-line flags (`kappa up --help`) override the file.',
    '',
  ];
  const sections: string[] = [];
  const top: string[] = [];
  for (const [key, node] of Object.entries(root.properties ?? {})) {
    const object = objectOf(node);
    if (key === 'bus') continue; // its own section, one table per kind, at the end
    if (object) sections.push(...section(key, node, object));
    else top.push(row(key, node));
  }
  out.push('## Top level', '', ...header(), ...top, '');
  out.push(...sections);
  out.push(...busSection(root.properties!.bus!));
  return `${out.join('\n').trimEnd()}\n`;
}

function section(key: string, node: JsonSchemaNode, object: JsonSchemaNode): string[] {
  const lines = [`## \`${key}\``, ''];
  if (node.description) lines.push(node.description, '');
  lines.push(...header());
  for (const [name, child] of Object.entries(object.properties ?? {})) {
    const nested = objectOf(child);
    const kinds = (child.oneOf ?? child.anyOf ?? []).filter((v) => v.properties?.kind?.const !== undefined);
    if (kinds.length > 0) {
      // A choice by `kind` (views.store, views.cache): the kind, then each kind's own keys.
      lines.push(kindRow(`${key}.${name}`, child, kinds));
      for (const variant of kinds)
        for (const [n2, c2] of Object.entries(variant.properties ?? {}))
          if (n2 !== 'kind')
            lines.push(row(`${key}.${name}.${n2}`, c2, `(kind ${String(variant.properties!.kind!.const)}) `));
    } else if (nested && !child.anyOf) {
      lines.push(row(`${key}.${name}`, child));
      for (const [n2, c2] of Object.entries(nested.properties ?? {}))
        lines.push(row(`${key}.${name}.${n2}`, c2));
    } else if (child.type === 'array' && child.items?.properties) {
      // A list of objects (cdc.sources, kinesis.sinks): the list, then each item's keys.
      lines.push(row(`${key}.${name}`, child));
      for (const [n2, c2] of Object.entries(child.items.properties))
        lines.push(row(`${key}.${name}[].${n2}`, c2));
    } else lines.push(row(`${key}.${name}`, child));
  }
  return [...lines, ''];
}

function busSection(node: JsonSchemaNode): string[] {
  const lines = ['## `bus`', ''];
  if (node.description) lines.push(node.description, '');
  for (const variant of node.oneOf ?? node.anyOf ?? []) {
    const kind = variant.properties?.kind?.const;
    lines.push(`### \`kind: ${String(kind)}\``, '', ...header());
    for (const [name, child] of Object.entries(variant.properties ?? {})) {
      if (name === 'kind') continue;
      lines.push(row(`bus.${name}`, child));
      const nested = objectOf(child);
      if (nested)
        for (const [n2, c2] of Object.entries(nested.properties ?? {}))
          lines.push(row(`bus.${name}.${n2}`, c2));
    }
    if (Object.keys(variant.properties ?? {}).length === 1) lines.push('| (no other keys) | | | |');
    lines.push('');
  }
  return lines;
}

const header = () => ['| key | type | default | what it is |', '|---|---|---|---|'];

function row(key: string, node: JsonSchemaNode, prefix = ''): string {
  const described = prefix + (node.description ?? objectOf(node)?.description ?? '');
  return `| \`${key}\` | ${typeOf(node)} | ${defaultOf(node)} | ${described.replace(/\|/g, '\\|')} |`;
}

function kindRow(key: string, node: JsonSchemaNode, kinds: JsonSchemaNode[]): string {
  const chosen = (node.default as { kind?: unknown } | undefined)?.kind;
  const type = kinds.map((v) => `\`${JSON.stringify(v.properties!.kind!.const)}\``).join(', ');
  const value = chosen === undefined ? '—' : `\`${JSON.stringify(chosen)}\``;
  return `| \`${key}.kind\` | ${type} | ${value} | ${(node.description ?? '').replace(/\|/g, '\\|')} |`;
}

function objectOf(node: JsonSchemaNode): JsonSchemaNode | undefined {
  if (node.properties) return node;
  return (node.anyOf ?? []).find((n) => n.properties);
}

function typeOf(node: JsonSchemaNode): string {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(', ');
  const variants = node.anyOf ?? node.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' or ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  if (node.properties) return 'object';
  const type = Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
  const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
  const min = node.minimum;
  const range =
    min !== undefined && max !== undefined
      ? ` (${min}–${max})`
      : min !== undefined
        ? ` (≥ ${min})`
        : node.exclusiveMinimum !== undefined
          ? ` (> ${node.exclusiveMinimum})`
          : max !== undefined
            ? ` (≤ ${max})`
            : '';
  return `${type}${range}`;
}

function defaultOf(node: JsonSchemaNode): string {
  if (node.default === undefined) return '—';
  if (typeof node.default === 'object' && node.default !== null && !Array.isArray(node.default))
    return Object.keys(node.default).length === 0 ? '—' : `\`${JSON.stringify(node.default)}\``;
  return `\`${JSON.stringify(node.default)}\``;
}
