import type protobuf from 'protobufjs';
import type { ProtoEnum, ProtoField, ProtoFile, ProtoMessage } from './proto-file.ts';
import type { TypeTable } from './proto-types.ts';

/**
 * The text the registry stores for a Protobuf schema, laid out as Confluent's registry lays it out
 * (the Wire library's format): no comments, two-space indents, at each level messages before enums,
 * and within a message fields, then oneofs, then nested types. Texts that differ only in layout or
 * comments give the same canonical text, and so the same id. With `normalize`, also fields sorted by
 * number, type names fully qualified, imports and options sorted, as Confluent's normalize does.
 * Written by hand: protobufjs parses .proto text but does not print it.
 */
export function formatProto(file: ProtoFile, table: TypeTable, normalize = false): string {
  const f = new Formatter(table, normalize);
  let out = '';
  // Normalized text names the syntax only for proto3, where it changes the meaning.
  if (normalize ? file.syntax === 'proto3' : file.syntaxWritten) out += `syntax = "${file.syntax}";\n`;
  if (file.package) out += `package ${file.package};\n`;
  const imports = normalize ? [...new Set(file.imports)].sort() : file.imports;
  if (imports.length > 0) out += `\n${imports.map((i) => `import ${JSON.stringify(i)};\n`).join('')}`;
  const options = f.sorted(file.options);
  if (options.length > 0)
    out += `\n${options.map(([k, v]) => `option ${optionName(k)} = ${value(v)};\n`).join('')}`;
  const types = [...file.messages.map((m) => f.message(m)), ...file.enums.map((e) => f.enumOf(e))];
  if (types.length > 0) out += `\n${types.join('')}`;
  if (file.services.length > 0) out += `\n${file.services.map((s) => f.service(s, file.package)).join('')}`;
  return out;
}

class Formatter {
  readonly #table: TypeTable;
  readonly #normalize: boolean;

  constructor(table: TypeTable, normalize: boolean) {
    this.#table = table;
    this.#normalize = normalize;
  }

  sorted(options: Array<[string, unknown]>): Array<[string, unknown]> {
    return this.#normalize ? [...options].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : options;
  }

  message(m: ProtoMessage): string {
    const sections: string[] = [];
    if (m.reserved.length > 0) sections.push(`reserved ${m.reserved.map(reservedRange).join(', ')};\n`);
    const options = this.sorted(m.options);
    if (options.length > 0)
      sections.push(options.map(([k, v]) => `option ${optionName(k)} = ${value(v)};\n`).join(''));
    const fields = this.#normalize ? [...m.fields].sort((a, b) => a.number - b.number) : m.fields;
    if (fields.length > 0) sections.push(fields.map((x) => this.#field(x, m.fullName)).join(''));
    const oneofs = (
      this.#normalize ? [...m.oneofs].sort((a, b) => firstTag(a) - firstTag(b)) : m.oneofs
    ).filter((o) => !this.#normalize || o.fields.length > 0);
    if (oneofs.length > 0)
      sections.push(
        oneofs
          .map((o) => {
            const members = this.#normalize ? [...o.fields].sort((a, b) => a.number - b.number) : o.fields;
            return `oneof ${o.name} {\n${indent(members.map((x) => this.#field(x, m.fullName)).join(''))}}\n`;
          })
          .join(''),
      );
    const nested = [...m.messages.map((x) => this.message(x)), ...m.enums.map((e) => this.enumOf(e))];
    if (nested.length > 0) sections.push(nested.join(''));
    if (sections.length === 0) return `message ${m.name} {}\n`;
    return `message ${m.name} {\n${sections.map(indent).join('\n')}}\n`;
  }

  enumOf(e: ProtoEnum): string {
    const lines: string[] = [];
    if (e.reserved.length > 0) lines.push(`reserved ${e.reserved.map(reservedRange).join(', ')};\n`);
    for (const [k, v] of this.sorted(e.options)) lines.push(`option ${optionName(k)} = ${value(v)};\n`);
    const values = this.#normalize
      ? [...e.values].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      : e.values;
    for (const [name, number] of values) lines.push(`${name} = ${number};\n`);
    return lines.length === 0 ? `enum ${e.name} {}\n` : `enum ${e.name} {\n${indent(lines.join(''))}}\n`;
  }

  service(s: protobuf.Service, pkg: string): string {
    const rpcs = s.methodsArray.map((m) => {
      const req = `${m.requestStream ? 'stream ' : ''}${this.#qualify(m.requestType, pkg)}`;
      const res = `${m.responseStream ? 'stream ' : ''}${this.#qualify(m.responseType, pkg)}`;
      return `rpc ${m.name} (${req}) returns (${res});\n`;
    });
    return rpcs.length === 0 ? `service ${s.name} {}\n` : `service ${s.name} {\n${indent(rpcs.join(''))}}\n`;
  }

  #field(f: ProtoField, scope: string): string {
    const type =
      f.keyType !== undefined
        ? `map<${f.keyType}, ${this.#qualify(f.type, scope)}>`
        : this.#qualify(f.type, scope);
    const label = f.label && !(this.#normalize && f.keyType !== undefined) ? `${f.label} ` : '';
    const options = this.sorted(f.options);
    const suffix =
      options.length === 0
        ? ''
        : options.length === 1
          ? ` [${optionName(options[0]![0])} = ${value(options[0]![1])}]`
          : ` [\n${indent(options.map(([k, v]) => `${optionName(k)} = ${value(v)}`).join(',\n'))}\n]`;
    return `${label}${type} ${f.name} = ${f.number}${suffix};\n`;
  }

  #qualify(type: string, scope: string): string {
    if (!this.#normalize) return type;
    const info = this.#table.resolve(type, scope);
    return info ? `.${info.fullName}` : type;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line, i, all) => (i === all.length - 1 && line === '' ? '' : `  ${line}`))
    .join('\n');
}

const firstTag = (o: { fields: ProtoField[] }) => Math.min(...o.fields.map((f) => f.number));

function reservedRange(r: [number, number] | string): string {
  if (typeof r === 'string') return JSON.stringify(r);
  const [start, end] = r;
  return start === end ? String(start) : `${start} to ${end >= 536870911 ? 'max' : end}`;
}

function optionName(name: string): string {
  return name;
}

/** Identifiers (enum values such as SPEED) stay bare; other strings are quoted. */
function value(v: unknown): string {
  if (typeof v === 'string') return /^[A-Z][A-Z0-9_]*$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v).map(([k, x]) => `${k}: ${value(x)}`);
    return `{ ${entries.join(', ')} }`;
  }
  return String(v);
}
