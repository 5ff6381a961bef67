import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/index.ts';
import type { Pipeline } from '../stream/index.ts';

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

/**
 * The pipelines of a folder: each file's default export, built with `pipeline(…)…toTopic(…)` or `…toView(…)`. Node
 * runs TypeScript files as they are (type stripping). A missing folder means no pipelines; a file
 * that does not load, or does not export a pipeline, stops the start with its name and the reason.
 */
export async function loadPipelines(dir: string): Promise<Array<{ file: string; pipeline: Pipeline }>> {
  let names: string[];
  try {
    names = (await readdir(dir))
      .filter((n) => EXTENSIONS.includes(path.extname(n)) && !n.endsWith('.d.ts'))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`pipelines.dir: cannot read ${dir}: ${(error as Error).message}`);
  }
  const out: Array<{ file: string; pipeline: Pipeline }> = [];
  const seen = new Map<string, string>();
  const views = new Map<string, string>();
  for (const name of names) {
    const file = path.resolve(dir, name);
    let loaded: { default?: unknown };
    try {
      loaded = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (error) {
      throw new ConfigError(`Pipeline file ${file} does not load: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const p = loaded.default as Partial<Pipeline> | undefined;
    if (!p || typeof p.name !== 'string' || !Array.isArray(p.steps) || !p.source)
      throw new ConfigError(
        `Pipeline file ${file} must export default a pipeline: export default pipeline('name').source(…)…toTopic(…) (or …toView(…))`,
      );
    const other = seen.get(p.name);
    if (other) throw new ConfigError(`Pipelines in ${other} and ${file} are both named '${p.name}'`);
    seen.set(p.name, file);
    // A view version is one pipeline's: two writing one would overwrite each other's rows.
    for (const step of p.steps as Pipeline['steps'])
      if (step.kind === 'toView') {
        const writer = views.get(step.table);
        if (writer)
          throw new ConfigError(
            `Pipelines in ${writer} and ${file} both write version ${step.version} of view '${step.view}': give the newer pipeline('…', { version: ${step.version + 1} })`,
          );
        views.set(step.table, file);
      }
    out.push({ file, pipeline: p as Pipeline });
  }
  return out;
}
