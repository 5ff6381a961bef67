import './style.css';
import { api, followStatus, type Snapshot, session, whenUnauthorized } from './api.ts';
import { h } from './dom.ts';
import type { Page } from './page.ts';
import { deadLettersPage } from './pages/dead-letters.ts';
import { pipelinesPage } from './pages/pipelines.ts';
import { registryPage } from './pages/registry.ts';
import { topicsPage } from './pages/topics.ts';
import { viewsPage } from './pages/views.ts';

const PAGES: Record<string, () => Page> = {
  topics: topicsPage,
  pipelines: pipelinesPage,
  views: viewsPage,
  registry: registryPage,
  'dead-letters': deadLettersPage,
};
/** Snapshots kept: two minutes at one a second. */
const HISTORY = 120;

const app = document.getElementById('app')!;
const history: Snapshot[] = [];
let page: Page | null = null;
let unfollow: (() => void) | null = null;
let liveIndicator: HTMLElement | null = null;
/** Whether the live feed is connected now (the indicator is drawn again with each page). */
let connected = false;

function drawLive(): void {
  if (!liveIndicator) return;
  liveIndicator.textContent = connected ? '● live' : unfollow ? '○ reconnecting…' : 'connecting…';
  liveIndicator.className = connected ? 'live on' : 'live';
}

function login(message: string): void {
  unfollow?.();
  unfollow = null;
  page = null;
  const input = h('input', {
    type: 'password',
    name: 'key',
    placeholder: 'kappa_…',
    'data-testid': 'api-key',
    autocomplete: 'off',
  });
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: (e: Event) => {
        e.preventDefault();
        session.signIn(input.value.trim());
        void start();
      },
    },
    h('h1', {}, 'Kappa'),
    h(
      'p',
      {},
      message,
      '. Sign in with an API key (a key with the monitor scope sees everything but the dead letters and the registry; admin sees all). It stays in this tab’s session only.',
    ),
    input,
    h('button', { type: 'submit', 'data-testid': 'sign-in' }, 'Sign in'),
  );
  app.replaceChildren(form);
  input.focus();
}

function shell(): { main: HTMLElement; live: HTMLElement } {
  const current = location.hash.replace(/^#\/?/, '') || 'topics';
  const live = h('span', { class: 'live', 'data-testid': 'live' }, 'connecting…');
  const main = h('main', {});
  app.replaceChildren(
    h(
      'header',
      {},
      h('b', { class: 'brand' }, 'Kappa'),
      h(
        'nav',
        {},
        ...Object.entries(PAGES).map(([id, make]) =>
          h(
            'a',
            { href: `#/${id}`, class: id === current ? 'active' : '', 'data-testid': `nav-${id}` },
            make().title,
          ),
        ),
      ),
      live,
      session.key
        ? h(
            'button',
            {
              class: 'link',
              onclick: () => {
                session.signOut();
                login('Signed out');
              },
            },
            'Sign out',
          )
        : null,
    ),
    main,
  );
  return { main, live };
}

async function show(): Promise<void> {
  const id = location.hash.replace(/^#\/?/, '') || 'topics';
  const { main, live } = shell();
  const next = (PAGES[id] ?? topicsPage)();
  page = next;
  document.title = `${next.title} · Kappa`;
  main.append(h('h1', {}, next.title));
  const root = h('div', { 'data-testid': `page-${id}` });
  main.append(root);
  liveIndicator = live;
  drawLive();
  await next.mount(root);
  if (page === next && history.length > 0) next.update?.(history);
}

/** The server says in the page whether it asks for keys: then the login comes before any request. */
const keysRequired = document.querySelector('meta[name="kappa-auth"]')?.getAttribute('content') === 'keys';

async function start(): Promise<void> {
  if (keysRequired && !session.key) {
    login('This Kappa asks for an API key');
    return;
  }
  try {
    // Asks for a key if the server wants one, before anything is drawn.
    await api('/v1/status');
  } catch (error) {
    if ((error as { status?: number }).status === 401) return;
    if ((error as { status?: number }).status === 403) {
      login('This key may not read the status (it needs the monitor scope)');
      return;
    }
    app.replaceChildren(h('p', { class: 'error' }, `Kappa does not answer: ${(error as Error).message}`));
    return;
  }
  await show();
  unfollow?.();
  unfollow = followStatus(
    (snapshot) => {
      history.push(snapshot);
      if (history.length > HISTORY) history.shift();
      page?.update?.(history);
    },
    (now) => {
      connected = now;
      drawLive();
    },
  );
}

whenUnauthorized((message) => login(session.key ? `The key was refused: ${message}` : message));
window.addEventListener('hashchange', () => void show());
void start();
