/**
 * The bypass panel: whether the bypass is on, who holds it, the endpoints it accelerates,
 * its live counters and programs, with attach/detach buttons. Everything is rendered with
 * DOM APIs and textContent (never HTML strings); state arrives by postMessage after `ready`.
 */

import { formatBytes, type BypassPanelRequest, type BypassPanelUpdate, type BypassStatus } from '@dfs/protocol';
import { badge, button, divider, registerComponents } from '../components/toolkit';
import { el } from '../components/dom';
import { channel } from '../vscodeApi';
import './bypass.css';

registerComponents();
const app = document.getElementById('app') as HTMLElement;
const post = channel<BypassPanelUpdate, BypassPanelRequest>(render);

function table(rows: [string, string][], id: string): HTMLTableElement {
  const t = el('table');
  t.id = id;
  for (const [k, v] of rows) {
    const tr = el('tr');
    tr.append(el('th', k), el('td', v));
    t.append(tr);
  }
  return t;
}

function bypassSection(b: BypassStatus): HTMLElement[] {
  const c = b.counters;
  const out: HTMLElement[] = [
    table(
      [
        ['Held by', b.owner ?? '—'],
        ['cgroup', b.cgroup ?? '—'],
        ['JuiceFS', b.mountpoint ?? '—'],
        ['Object', b.objectName ?? '—'],
        ['Since', b.attachedAt ?? '—'],
      ],
      'bypass-where',
    ),
    el('h2', 'Counters'),
    table(
      [
        ['Redirected messages', String(c.redirected_msgs)],
        ['Redirected bytes', `${c.redirected_bytes} (${formatBytes(c.redirected_bytes)})`],
        ['Misses (normal TCP)', String(c.misses)],
        ['Errors', String(c.errors)],
        ['Sockets added at connect', String(c.sockets_added)],
        ['Connections adopted', String(b.adoptedSockets)],
        ['Remote peers skipped at connect', String(c.sockets_skipped)],
        ['Remote connections left at attach', String(b.remoteLeftAtAttach)],
      ],
      'bypass-counters',
    ),
  ];
  if (b.endpoints.length > 0) {
    out.push(
      el('h2', 'Endpoints'),
      table(
        b.endpoints.map((e) => [`${e.host}:${e.port}`, e.source]),
        'bypass-endpoints',
      ),
    );
  }
  if (b.programs.length > 0) {
    out.push(
      el('h2', 'Programs'),
      table(
        b.programs.map((p) => [`${p.name} (${p.type})`, `prog ${p.id}${p.linkId ? `, link ${p.linkId}` : ''}`]),
        'bypass-programs',
      ),
    );
  }
  return out;
}

function render(m: BypassPanelUpdate): void {
  const header = el('header');
  const title = el('h1', m.node ? `Bypass on ${m.node}` : 'Bypass');
  const on = m.bypass?.attached === true;
  const state = badge(m.node ? (on ? 'on' : 'off') : 'not connected');
  state.id = 'bypass-state';
  header.append(title, state);

  const actions = el('div', undefined, 'actions');
  if (!m.node) actions.append(button('Connect to test node', () => post({ type: 'connect' })));
  else if (on && m.bypass?.owner === 'this-connection')
    actions.append(button('Detach bypass', () => post({ type: 'detach' }), 'secondary'));
  else if (!on) actions.append(button('Attach bypass', () => post({ type: 'attach' })));

  const body: HTMLElement[] = [header, actions];
  if (m.error) body.push(el('p', m.error, 'error'));
  if (m.bypass && on) body.push(divider(), ...bypassSection(m.bypass));
  else if (m.node)
    body.push(el('p', 'The bypass is off: JuiceFS traffic to its metadata engine and object store takes normal TCP.'));
  app.replaceChildren(...body);
}

post({ type: 'ready' });
