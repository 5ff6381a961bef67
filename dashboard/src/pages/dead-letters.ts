import { DLQ_HEADERS } from '../../../src/stream/runtime/dead-letter-record.ts';
import { api, type Status } from '../api.ts';
import { h, table } from '../dom.ts';
import type { Page } from '../page.ts';

interface FetchedRecord {
  key: string | null;
  value: string | null;
  partition: number;
  offset: number;
  timestamp: number;
  headers?: Record<string, string>;
}

/**
 * A dead letter as the browser shows it, read from the headers the stream layer writes
 * (DLQ_HEADERS; `readDeadLetter` reads them on the server side, from Buffers the browser lacks).
 */
interface Letter {
  offset: number;
  timestamp: number;
  kind: 'record' | 'result';
  reason: string;
  pipeline: string;
  step: string;
  error: string;
  topic: string;
  source: string;
  key: string | null;
  value: string | null;
  headers: Array<{ name: string; value: string }>;
}

/** Kappa's own headers of a dead letter; the rest are the source record's. */
const PREFIX = 'kappa.dlq.';
/** Records per produce request of a replay, as `kappa dlq replay`. */
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

function letterOf(r: FetchedRecord): Letter {
  const header = (name: keyof typeof DLQ_HEADERS) =>
    r.headers?.[DLQ_HEADERS[name]] ? readable(r.headers[DLQ_HEADERS[name]]!) : '';
  // Letters written before the kind header: a result's has no source partition.
  const kind = (header('kind') || (Number(header('partition')) < 0 ? 'result' : 'record')) as Letter['kind'];
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    kind: kind === 'result' ? 'result' : 'record',
    reason: header('reason'),
    pipeline: header('pipeline'),
    step: header('step'),
    error: `${header('errorClass')}: ${header('message')}`,
    topic: header('topic'),
    source: `${header('topic')}/${header('partition')}@${header('offset')}`,
    key: r.key,
    value: r.value,
    headers: Object.entries(r.headers ?? {})
      .filter(([name]) => !name.startsWith(PREFIX))
      .map(([name, value]) => ({ name, value })),
  };
}

async function readLetters(topic: string): Promise<Letter[]> {
  const out: Letter[] = [];
  for (let offset = 0; ; ) {
    const page = await api<{ records: FetchedRecord[] }>(
      `/v1/topics/${encodeURIComponent(topic)}/records?partition=0&offset=${offset}&limit=1000&format=binary&timeout_ms=100`,
    );
    if (page.records.length === 0) return out;
    out.push(...page.records.map(letterOf));
    offset = page.records.at(-1)!.offset + 1;
  }
}

/** The dead-letter browser: filter by pipeline and reason, inspect one, replay those selected. */
export function deadLettersPage(): Page {
  let letters: Letter[] = [];
  let topic = 'dead-letters';
  const selected = new Set<number>();
  const filters = { pipeline: '', reason: '' };
  let list: HTMLElement;
  let detail: HTMLElement;
  let message: HTMLElement;
  let controls: HTMLElement;

  const shown = () =>
    letters.filter(
      (l) =>
        (!filters.pipeline || l.pipeline === filters.pipeline) &&
        (!filters.reason || l.reason === filters.reason),
    );
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
            draw();
          },
        },
        h('option', { value: '' }, 'all'),
        ...values.map((v) =>
          h('option', { value: v, ...(filters[name] === v ? { selected: true } : {}) }, v),
        ),
      ),
    );

  function draw(): void {
    const unique = (f: (l: Letter) => string) => [...new Set(letters.map(f))].sort();
    controls.replaceChildren(
      select(
        'pipeline',
        unique((l) => l.pipeline),
      ),
      select(
        'reason',
        unique((l) => l.reason),
      ),
      h('button', { 'data-testid': 'reload', onclick: () => void load() }, 'Reload'),
      h('button', { 'data-testid': 'replay', onclick: () => void replay() }, 'Replay selected'),
    );
    const rows = shown().map((l) => [
      h('input', {
        type: 'checkbox',
        'data-testid': `select-${l.offset}`,
        ...(selected.has(l.offset) ? { checked: true } : {}),
        ...(l.kind === 'result'
          ? { disabled: true, title: 'a window result: replay the pipeline’s input instead' }
          : {}),
        onchange: (e: Event) => {
          if ((e.target as HTMLInputElement).checked) selected.add(l.offset);
          else selected.delete(l.offset);
        },
      }),
      h(
        'a',
        {
          href: '#',
          'data-testid': `inspect-${l.offset}`,
          onclick: (e: Event) => {
            e.preventDefault();
            inspect(l);
          },
        },
        String(l.offset),
      ),
      l.reason,
      `${l.pipeline}/${l.step}`,
      l.error,
      l.source,
    ]);
    list.replaceChildren(
      rows.length === 0
        ? h('p', { class: 'muted', 'data-testid': 'letters' }, 'No dead letters.')
        : table('letters', ['', 'offset', 'reason', 'pipeline/step', 'error', 'source'], rows),
    );
  }

  function inspect(l: Letter): void {
    detail.replaceChildren(
      h('h3', {}, `Dead letter at offset ${l.offset}`),
      h(
        'pre',
        { 'data-testid': 'letter-detail' },
        JSON.stringify(
          {
            ...l,
            key: l.key === null ? null : readable(l.key),
            value: readable(l.value),
            at: new Date(l.timestamp).toISOString(),
          },
          null,
          2,
        ),
      ),
    );
  }

  async function load(): Promise<void> {
    try {
      letters = await readLetters(topic);
      draw();
    } catch (error) {
      list.replaceChildren(h('p', { class: 'error' }, `Cannot read ${topic}: ${(error as Error).message}`));
    }
  }

  async function replay(): Promise<void> {
    const chosen = letters.filter((l) => selected.has(l.offset) && l.kind === 'record');
    if (chosen.length === 0) {
      message.textContent = 'Select the dead letters to replay first.';
      return;
    }
    try {
      const byTopic = new Map<string, Letter[]>();
      for (const l of chosen) byTopic.set(l.topic, [...(byTopic.get(l.topic) ?? []), l]);
      for (const [source, list] of byTopic)
        for (let i = 0; i < list.length; i += REPLAY_BATCH)
          await api(`/topics/${encodeURIComponent(source)}`, {
            method: 'POST',
            type: 'application/vnd.kafka.binary.v2+json',
            body: {
              records: list.slice(i, i + REPLAY_BATCH).map((l) => ({
                key: l.key,
                value: l.value,
                ...(l.headers.length > 0 ? { headers: l.headers } : {}),
              })),
            },
          });
      selected.clear();
      message.textContent = `Replayed ${chosen.length} dead letter${chosen.length === 1 ? '' : 's'} to ${[...byTopic.keys()].join(', ')}.`;
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
      topic = (await api<Status>('/v1/status')).deadLetters.topic;
      await load();
    },
  };
}
