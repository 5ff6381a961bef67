import { api } from '../api.ts';
import { h, table } from '../dom.ts';
import type { Page } from '../page.ts';

interface Latest {
  id: number;
  version: number;
  schemaType?: string;
}

/** The schema registry: each subject's versions, latest schema and compatibility level (Confluent's API). */
export function registryPage(): Page {
  return {
    title: 'Registry',
    async mount(root) {
      const body = h('div', {}, h('p', { class: 'muted' }, 'Reading the registry…'));
      root.append(body);
      try {
        const global = await api<{ compatibilityLevel: string }>('/config');
        const subjects = await api<string[]>('/subjects');
        const rows = await Promise.all(
          subjects.map(async (subject) => {
            const s = encodeURIComponent(subject);
            const [versions, latest, config] = await Promise.all([
              api<number[]>(`/subjects/${s}/versions`),
              api<Latest>(`/subjects/${s}/versions/latest`),
              api<{ compatibilityLevel: string }>(`/config/${s}?defaultToGlobal=true`),
            ]);
            return [
              subject,
              versions.join(', '),
              latest.id,
              latest.schemaType ?? 'AVRO',
              config.compatibilityLevel,
            ];
          }),
        );
        body.replaceChildren(
          h('p', {}, `Global compatibility: `, h('b', {}, global.compatibilityLevel)),
          subjects.length === 0
            ? h('p', { class: 'muted', 'data-testid': 'subjects' }, 'No subjects yet.')
            : table('subjects', ['subject', 'versions', 'latest id', 'type', 'compatibility'], rows),
        );
      } catch (error) {
        body.replaceChildren(
          h('p', { class: 'error' }, `Cannot read the registry: ${(error as Error).message}`),
        );
      }
    },
  };
}
