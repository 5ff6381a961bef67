import { labelValues, type Metric, type Snapshot, total } from '../api.ts';
import { format, LiveChart } from '../chart.ts';
import { h, table } from '../dom.ts';
import { type Page, ratesOf } from '../page.ts';

type Pipeline = Snapshot['status']['pipelines'][number];

const read = (s: Snapshot) => new Map(s.status.pipelines.map((p) => [p.name, p.processed]));
const stepCounts = (pipeline: string, direction: string) => (s: Snapshot) => {
  const out = new Map<string, number>();
  for (const step of labelValues(s.metrics, 'kappa_pipeline_step_records_total', 'step'))
    out.set(step, total(s.metrics, 'kappa_pipeline_step_records_total', { pipeline, step, direction }));
  return out;
};
const watermarkDelay = (metrics: Metric[], pipeline: string): number | null => {
  const metric = metrics.find((m) => m.name === 'kappa_pipeline_watermark_delay_seconds');
  const values = (metric?.values ?? []).filter((v) => v.labels.pipeline === pipeline).map((v) => v.value);
  return values.length === 0 ? null : Math.max(...values);
};

/** Pipelines: each one's steps as a picture with their rates, its lag, watermark delay and dead letters by reason. */
export function pipelinesPage(): Page {
  let cards: HTMLElement;
  let throughput: LiveChart;
  let delays: LiveChart;
  return {
    title: 'Pipelines',
    mount(root) {
      cards = h('div', {}, h('p', { class: 'muted' }, 'Waiting for the first reading…'));
      const a = h('div', { class: 'chart' });
      const b = h('div', { class: 'chart' });
      root.append(cards, h('div', { class: 'charts' }, a, b));
      throughput = new LiveChart(a, 'Records read per second, by pipeline', '/s');
      delays = new LiveChart(b, 'Watermark delay, by pipeline', ' s');
    },
    update(history) {
      const now = history.at(-1)!;
      const { pipelines } = now.status;
      if (pipelines.length === 0) {
        cards.replaceChildren(h('p', { class: 'muted' }, 'No pipelines run here.'));
        return;
      }
      cards.replaceChildren(...pipelines.map((p) => card(p, history)));
      const rates = ratesOf(history, read);
      if (rates.size > 0) throughput.push(now.status.at, Object.fromEntries(rates));
      const delay: Record<string, number> = {};
      for (const p of pipelines) {
        const d = watermarkDelay(now.metrics, p.name);
        if (d !== null) delay[p.name] = d;
      }
      if (Object.keys(delay).length > 0) delays.push(now.status.at, delay);
    },
  };
}

function card(p: Pipeline, history: readonly Snapshot[]): HTMLElement {
  const now = history.at(-1)!;
  const into = ratesOf(history, stepCounts(p.name, 'in'));
  const out = ratesOf(history, stepCounts(p.name, 'out'));
  const delay = watermarkDelay(now.metrics, p.name);
  const reasons = labelValues(now.metrics, 'kappa_dead_letters_total', 'reason');
  const letters = reasons
    .map(
      (reason) =>
        [reason, total(now.metrics, 'kappa_dead_letters_total', { pipeline: p.name, reason })] as const,
    )
    .filter(([, n]) => n > 0);
  const rate = (m: Map<string, number>, step: string) => (m.has(step) ? `${format(m.get(step)!)}/s` : '-');
  return h(
    'section',
    { class: 'card', 'data-testid': `pipeline-${p.name}` },
    h('h2', {}, p.name, ' ', h('span', { class: `state ${p.state}` }, p.state)),
    h(
      'p',
      {},
      `source ${p.source} · processed `,
      h('b', { 'data-testid': `processed-${p.name}` }, String(p.processed)),
      ` · lag ${p.lag} · watermark delay ${delay === null ? '-' : `${format(delay)} s`}`,
      p.idlePartitions.length > 0 ? ` · idle partitions ${p.idlePartitions.join(', ')}` : '',
    ),
    h(
      'div',
      { class: 'stages', 'data-testid': `steps-${p.name}` },
      ...p.steps.flatMap((s, i) => [
        ...(i > 0 ? [h('span', { class: 'arrow' }, '→')] : []),
        h(
          'div',
          { class: `step ${s.kind}` },
          h('b', {}, s.kind),
          h('small', {}, s.name),
          s.kind === 'source' ? null : h('small', {}, `in ${rate(into, s.name)} · out ${rate(out, s.name)}`),
        ),
      ]),
    ),
    letters.length === 0
      ? h('p', { class: 'muted' }, 'No dead letters.')
      : table(
          `dead-letters-${p.name}`,
          ['dead letters: reason', 'count'],
          letters.map(([r, n]) => [r, n]),
        ),
  );
}
