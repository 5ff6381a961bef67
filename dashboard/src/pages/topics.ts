import type { Snapshot } from '../api.ts';
import { format, LiveChart } from '../chart.ts';
import { h, table } from '../dom.ts';
import { type Page, ratesOf } from '../page.ts';

const endOffsets = (s: Snapshot) =>
  new Map(s.status.topics.filter((t) => !t.internal).map((t) => [t.name, t.endOffset]));

/** Topics: partitions, records held, and the rate records arrive at (from any producer). */
export function topicsPage(): Page {
  let summary: HTMLElement;
  let chart: LiveChart;
  return {
    title: 'Topics',
    mount(root) {
      summary = h('div', {}, h('p', { class: 'muted' }, 'Waiting for the first reading…'));
      const plot = h('div', { class: 'chart' });
      root.append(summary, plot);
      chart = new LiveChart(plot, 'Records per second, by topic', '/s');
    },
    update(history) {
      const now = history.at(-1)!;
      const rates = ratesOf(history, endOffsets);
      const topics = now.status.topics.filter((t) => !t.internal);
      const own = now.status.topics.length - topics.length;
      summary.replaceChildren(
        table(
          'topics',
          ['topic', 'partitions', 'records', 'records/s'],
          topics.map((t) => [
            t.name,
            t.partitions,
            h('span', { 'data-testid': `records-${t.name}` }, String(t.records)),
            rates.has(t.name) ? format(rates.get(t.name)!) : '-',
          ]),
        ),
        h(
          'p',
          { class: 'muted' },
          `${own} of Kappa's own topics (registry, changelogs, repartition and view topics) are not shown.`,
        ),
      );
      if (rates.size > 0) chart.push(now.status.at, Object.fromEntries(rates));
    },
  };
}
