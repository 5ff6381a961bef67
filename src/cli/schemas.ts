import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { KappaClient } from './client.ts';

const SR = 'application/vnd.schemaregistry.v1+json';
const TYPES: Record<string, string> = {
  avro: 'AVRO',
  avsc: 'AVRO',
  json: 'JSON',
  proto: 'PROTOBUF',
  protobuf: 'PROTOBUF',
};

/** `kappa schemas`: the registry's subjects, versions and compatibility checks from the command line. */
export function schemasCommand(program: Command, client: () => KappaClient): void {
  const schemas = program
    .command('schemas')
    .description('list, show, register and check schemas in the registry');
  const enc = encodeURIComponent;

  schemas
    .command('list')
    .description('list subjects')
    .option('--prefix <prefix>', 'only subjects starting with this')
    .option('--deleted', 'include soft-deleted subjects')
    .action(async (options: { prefix?: string; deleted?: boolean }) => {
      const query = new URLSearchParams();
      if (options.prefix) query.set('subjectPrefix', options.prefix);
      if (options.deleted) query.set('deleted', 'true');
      const subjects = await client().request<string[]>('GET', `/subjects?${query}`);
      for (const s of subjects) process.stdout.write(`${s}\n`);
    });

  schemas
    .command('show <subject> [version]')
    .description("print a subject's version (default: latest) as JSON")
    .action(async (subject: string, version = 'latest') => {
      const v = await client().request('GET', `/subjects/${enc(subject)}/versions/${enc(version)}`);
      process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
    });

  const read = async (file: string, type: string | undefined) => {
    const schemaType = TYPES[(type ?? path.extname(file).slice(1)).toLowerCase()];
    if (!schemaType)
      throw new Error(`Cannot tell the schema language of ${file}: pass --type avro, json or protobuf`);
    return { schemaType, schema: await readFile(file, 'utf8') };
  };

  schemas
    .command('register <subject> <file>')
    .description('register the schema in a file (.avsc, .json, .proto) under a subject')
    .option('--type <type>', 'avro, json or protobuf (default: from the file extension)')
    .option('--normalize', 'store the normalized form')
    .action(async (subject: string, file: string, options: { type?: string; normalize?: boolean }) => {
      const body = await read(file, options.type);
      const query = options.normalize ? '?normalize=true' : '';
      const { id } = await client().request<{ id: number }>(
        'POST',
        `/subjects/${enc(subject)}/versions${query}`,
        body,
        SR,
      );
      process.stdout.write(`Registered ${file} under ${subject}: schema id ${id}\n`);
    });

  schemas
    .command('check <subject> <file>')
    .description("check a schema file against the subject's compatibility level; exits 1 when incompatible")
    .option('--type <type>', 'avro, json or protobuf (default: from the file extension)')
    .action(async (subject: string, file: string, options: { type?: string }) => {
      const body = await read(file, options.type);
      const result = await client().request<{ is_compatible: boolean; messages: string[] }>(
        'POST',
        `/compatibility/subjects/${enc(subject)}/versions?verbose=true`,
        body,
        SR,
      );
      if (result.is_compatible) {
        process.stdout.write(`${file} is compatible with ${subject}\n`);
        return;
      }
      process.stdout.write(`${file} is NOT compatible with ${subject}:\n`);
      for (const m of result.messages) process.stdout.write(`  ${m}\n`);
      process.exitCode = 1;
    });
}
