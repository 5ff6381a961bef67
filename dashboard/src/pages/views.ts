import { labelValues, type Snapshot, total } from '../api.ts';
import { LiveChart } from '../chart.ts';
import { h, table } from '../dom.ts';
import type { Page } from '../page.ts';

/** Views: rows and materializer lag, upserts per second, and query latency by kind. */
export function viewsPage(): Page {
  let summary: HTMLElement;
  let latency: LiveChart;
  return {
    title: 'Views',
    mount(root) {
      summary = h('div', {}, h('p', { class: 'muted' }, 'Waiting for the first reading…'));
      const plot = h('div', { class: 'chart' });
      root.append(summary, plot);
      latency = new LiveChart(plot, 'Mean query latency, by kind', ' ms');
    },
    update(history) {
      const now = history.at(-1)!;
      const before = history.at(-2);
      const { views } = now.status;
      summary.replaceChildren(
        views.length === 0
          ? h('p', { class: 'muted' }, 'No views are materialized here.')
          : table(
              'views',
              ['view', 'pipeline', 'version', 'rows', 'lag', 'upserts'],
              views.map((v) => [
                v.name,
                v.pipeline,
                v.version,
                h('span', { 'data-testid': `rows-${v.name}` }, String(v.rows)),
                v.lag,
                h(
                  'span',
                  { 'data-testid': `upserts-${v.name}` },
                  String(total(now.metrics, 'kappa_view_upserts_total', { view: v.name })),
                ),
              ]),
            ),
      );
      if (!before) return;
      const mean: Record<string, number> = {};
      for (const kind of labelValues(now.metrics, 'kappa_view_query_seconds', 'kind')) {
        const at = (s: Snapshot, m: string) => total(s.metrics, 'kappa_view_query_seconds', { kind }, m);
        const count =
          at(now, 'kappa_view_query_seconds_count') - at(before, 'kappa_view_query_seconds_count');
        const sum = at(now, 'kappa_view_query_seconds_sum') - at(before, 'kappa_view_query_seconds_sum');
        if (count > 0) mean[kind] = (1000 * sum) / count;
      }
      latency.push(now.status.at, mean);
    },
  };
}
