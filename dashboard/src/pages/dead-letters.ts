import type { DeadLetterJson, DeadLetterPageJson, ReplayAnswerJson } from '../../../src/http/index.ts';
import { DEAD_LETTER_REASONS } from '../../../src/stream/runtime/dead-letter.ts';
import { api, type Status } from '../api.ts';
import { h, table } from '../dom.ts';
import type { Page } from '../page.ts';

/** Letters read per page; more come with "Load more". */
const PAGE_LETTERS = 200;
/** Offsets per replay request, as `kappa dlq replay`. */
const REPLAY_BATCH = 500;

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Text if the bytes are UTF-8, else their base64. */
function readable(base64: string | null): string {
  if (base64 === null) return '(null)';
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(fromBase64(base64));
  } catch {
    return `base64:${base64}`;
  }
}

/** Where a letter sits: its partition and offset in the dead-letter topic. */
const at = (l: DeadLetterJson) => `${l.partition}-${l.offset}`;

/**
 * The dead-letter browser: filter by pipeline and reason (on the server), inspect one, replay those
 * selected. Letters come a page at a time from `GET /v1/topics/{topic}/dead-letters`, which reads
 * them from the headers pipelines write; replay is the server's too.
 */
export function deadLettersPage(): Page {
  let letters: DeadLetterJson[] = [];
  let topic = 'dead-letters';
  let partitions = 1;
  /** Where the next page of each partition starts, and whether any is left. */
  let cursor = { partition: 0, from: 0 };
  let more = false;
  const selected = new Set<string>();
  const filters = { pipeline: '', reason: '' };
  /** Every pipeline seen in a letter or in the status, for the filter. */
  const pipelines = new Set<string>();
  let list: HTMLElement;
  let detail: HTMLElement;
  let message: HTMLElement;
  let controls: HTMLElement;

  const label = (l: DeadLetterJson) => (partitions > 1 ? `${l.partition}/${l.offset}` : String(l.offset));
  const select = (name: keyof typeof filters, values: string[]) =>
    h(
      'label',
      {},
      `${name} `,
      h(
        'select',
        {
          'data-testid': `filter-${name}`,
          onchange: (e: Event) => {
            filters[name] = (e.target as HTMLSelectElement).value;
            void load();
          },
        },
        h('option', { value: '' }, 'all'),
        ...values.map((v) =>
          h('option', { value: v, ...(filters[name] === v ? { selected: true } : {}) }, v),
        ),
      ),
    );

  function draw(): void {
    controls.replaceChildren(
      select('pipeline', [...pipelines].sort()),
      select('reason', [...DEAD_LETTER_REASONS]),
      h('button', { 'data-testid': 'reload', onclick: () => void load() }, 'Reload'),
      h('button', { 'data-testid': 'replay', onclick: () => void replay() }, 'Replay selected'),
    );
    const rows = letters.map((l) => [
      h('input', {
        type: 'checkbox',
        'data-testid': `select-${label(l)}`,
        ...(selected.has(at(l)) ? { checked: true } : {}),
        ...(l.kind === 'result'
          ? { disabled: true, title: 'a window result: replay the pipeline’s input instead' }
          : {}),
        onchange: (e: Event) => {
          if ((e.target as HTMLInputElement).checked) selected.add(at(l));
          else selected.delete(at(l));
        },
      }),
      h(
        'a',
        {
          href: '#',
          'data-testid': `inspect-${label(l)}`,
          onclick: (e: Event) => {
            e.preventDefault();
            inspect(l);
          },
        },
        label(l),
      ),
      l.reason,
      `${l.pipeline}/${l.step}`,
      `${l.errorClass}: ${l.message}`,
      `${l.source.topic}/${l.source.partition}@${l.source.offset}`,
    ]);
    list.replaceChildren(
      rows.length === 0
        ? h('p', { class: 'muted', 'data-testid': 'letters' }, 'No dead letters.')
        : table('letters', ['', 'offset', 'reason', 'pipeline/step', 'error', 'source'], rows),
      ...(more ? [h('button', { 'data-testid': 'more', onclick: () => void loadMore() }, 'Load more')] : []),
    );
  }

  function inspect(l: DeadLetterJson): void {
    detail.replaceChildren(
      h('h3', {}, `Dead letter at offset ${label(l)}`),
      h(
        'pre',
        { 'data-testid': 'letter-detail' },
        JSON.stringify(
          {
            ...l,
            key: l.key === null ? null : readable(l.key),
            value: readable(l.value),
            headers: l.headers.map((x) => ({ name: x.name, value: readable(x.value) })),
            at: new Date(l.timestamp).toISOString(),
          },
          null,
          2,
        ),
      ),
    );
  }

  /** Letters from the cursor on until a page is full, partition after partition. */
  async function readPage(): Promise<DeadLetterJson[]> {
    const out: DeadLetterJson[] = [];
    while (out.length < PAGE_LETTERS) {
      const query = new URLSearchParams({
        partition: String(cursor.partition),
        from: String(cursor.from),
        limit: String(PAGE_LETTERS - out.length),
      });
      if (filters.pipeline) query.set('pipeline', filters.pipeline);
      if (filters.reason) query.set('reason', filters.reason);
      const page = await api<DeadLetterPageJson>(
        `/v1/topics/${encodeURIComponent(topic)}/dead-letters?${query}`,
      );
      partitions = page.partitions;
      out.push(...page.letters);
      for (const l of page.letters) pipelines.add(l.pipeline);
      if (page.next < page.end) cursor = { partition: cursor.partition, from: page.next };
      else if (cursor.partition + 1 < partitions) cursor = { partition: cursor.partition + 1, from: 0 };
      else {
        more = false;
        return out;
      }
    }
    more = true;
    return out;
  }

  async function load(): Promise<void> {
    cursor = { partition: 0, from: 0 };
    try {
      letters = await readPage();
      draw();
    } catch (error) {
      list.replaceChildren(h('p', { class: 'error' }, `Cannot read ${topic}: ${(error as Error).message}`));
    }
  }

  async function loadMore(): Promise<void> {
    try {
      letters = [...letters, ...(await readPage())];
      draw();
    } catch (error) {
      message.textContent = `Cannot read ${topic}: ${(error as Error).message}`;
    }
  }

  async function replay(): Promise<void> {
    const chosen = letters.filter((l) => selected.has(at(l)) && l.kind === 'record');
    if (chosen.length === 0) {
      message.textContent = 'Select the dead letters to replay first.';
      return;
    }
    try {
      const to = new Set<string>();
      const refused: string[] = [];
      let replayed = 0;
      for (const [partition, list] of Map.groupBy(chosen, (l) => l.partition))
        for (let i = 0; i < list.length; i += REPLAY_BATCH) {
          const answer = await api<ReplayAnswerJson>(
            `/v1/topics/${encodeURIComponent(topic)}/dead-letters/replay`,
            {
              method: 'POST',
              body: { partition, offsets: list.slice(i, i + REPLAY_BATCH).map((l) => l.offset) },
            },
          );
          replayed += answer.replayed.length;
          for (const r of answer.replayed) to.add(r.topic);
          for (const r of answer.refused) refused.push(`${r.offset}: ${r.why}`);
        }
      selected.clear();
      message.textContent =
        `Replayed ${replayed} dead letter${replayed === 1 ? '' : 's'} to ${[...to].join(', ') || 'nowhere'}.` +
        (refused.length > 0 ? ` Refused ${refused.join('; ')}.` : '');
      draw();
    } catch (error) {
      message.textContent = `Replay failed: ${(error as Error).message}`;
    }
  }

  return {
    title: 'Dead letters',
    async mount(root) {
      controls = h('div', { class: 'controls' });
      message = h('p', { 'data-testid': 'replay-result', role: 'status' });
      list = h('div', {}, h('p', { class: 'muted' }, 'Reading the dead letters…'));
      detail = h('div', { class: 'detail' });
      root.append(controls, message, h('div', { class: 'split' }, list, detail));
      const status = await api<Status>('/v1/status');
      topic = status.deadLetters.topic;
      for (const p of status.pipelines) pipelines.add(p.name);
      await load();
    },
  };
}
