/**
 * The entry editor: two JSON text areas (key, value) filled from the selected row ("Edit
 * selected") or as a template for a new entry ("New entry"), and Update / Insert / Delete, which
 * send the texts as they are in a `write` request. The host checks them against the map's BTF
 * and answers with a `result`; until it does, the editor says the write is on its way and never
 * that it worked. A failure is shown in the error colour with the host's message verbatim (it
 * names the field). Hidden, with the reason shown, when the map is read-only.
 */

import type { MapRow, MapsPanelRequest } from '@dfs/protocol';
import { el } from '../components/dom';
import { prettyJson } from './json';

type Write = Extract<MapsPanelRequest, { type: 'write' }>;

const OP_WORDS: Record<Write['op'], string> = { update: 'Updating', insert: 'Inserting', delete: 'Deleting' };
/** After this long without a result, the buttons come back (the request stays outstanding). */
const STALL_MS = 20_000;

export class EditorView {
  readonly element = el('section', undefined, 'editor');
  private readonly readOnlyNote = el('p', '', 'read-only');
  private readonly form = el('div', undefined, 'editor-form');
  private readonly key = el('textarea');
  private readonly value = el('textarea');
  private readonly valueLabel = el('label', 'Value (JSON)');
  private readonly outcome = el('p', '', 'outcome');
  private readonly writeButtons: HTMLButtonElement[] = [];
  private readonly editSelected = el('button', 'Edit selected');
  private selected: MapRow | null = null;
  private stall: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly send: (w: Write) => void) {
    this.element.setAttribute('aria-label', 'Edit entries');
    const head = el('div', undefined, 'pane-head');
    const fill = el('div', undefined, 'buttons');
    const fresh = el('button', 'New entry');
    fresh.title = "Fill the editor with the selected row's JSON as a template (or empty)";
    this.editSelected.title = "Fill the editor with the selected row's key and value";
    this.editSelected.addEventListener('click', () => this.fill(this.selected, false));
    fresh.addEventListener('click', () => this.fill(this.selected, true));
    fill.append(this.editSelected, fresh);
    head.append(el('h2', 'Edit'), fill);
    this.key.id = 'edit-key';
    this.value.id = 'edit-value';
    for (const t of [this.key, this.value]) {
      t.spellcheck = false;
      t.setAttribute('autocomplete', 'off');
    }
    this.key.className = 'edit-key';
    this.value.className = 'edit-value';
    const keyLabel = el('label', 'Key (JSON)');
    keyLabel.htmlFor = this.key.id;
    this.valueLabel.htmlFor = this.value.id;
    const actions = el('div', undefined, 'buttons');
    for (const [op, label, title] of [
      ['update', 'Update', 'Write the value at the key'],
      ['insert', 'Insert', 'Add a new entry (fails if the key is already in the map)'],
      ['delete', 'Delete', 'Delete the entry at the key (the value is not sent)'],
    ] as const) {
      const b = el('button', label, op === 'delete' ? 'danger' : '');
      b.title = title;
      b.addEventListener('click', () => this.write(op));
      this.writeButtons.push(b);
      actions.append(b);
    }
    this.outcome.setAttribute('role', 'status');
    this.outcome.setAttribute('aria-live', 'polite');
    this.form.append(keyLabel, this.key, this.valueLabel, this.value, actions, this.outcome);
    this.readOnlyNote.hidden = true;
    this.element.append(head, this.readOnlyNote, this.form);
    this.select(null);
  }

  /** The map changed: read-only (with its reason) or editable; the texts are cleared. */
  setMap(readOnly: string | undefined, perCpu: boolean): void {
    this.form.hidden = readOnly !== undefined;
    this.editSelected.parentElement!.hidden = readOnly !== undefined;
    this.readOnlyNote.hidden = readOnly === undefined;
    this.readOnlyNote.textContent = readOnly === undefined ? '' : `Read-only: ${readOnly}`;
    this.valueLabel.textContent = perCpu ? 'Value (JSON, an array with one element per CPU)' : 'Value (JSON)';
    this.key.value = '';
    this.value.value = '';
    this.setOutcome('', 'none');
  }

  select(row: MapRow | null): void {
    this.selected = row;
    this.editSelected.disabled = row === null;
  }

  /** The host's answer to the write this editor sent. */
  result(ok: boolean, message: string): void {
    clearTimeout(this.stall);
    this.busy(false);
    this.setOutcome(message || (ok ? 'Done.' : 'The write failed.'), ok ? 'ok' : 'error');
  }

  /** Fill from `row`: its texts to edit, or as a template for a new entry (empty without one). */
  private fill(row: MapRow | null, asTemplate: boolean): void {
    this.key.value = row ? prettyJson(row.keyJson) : '';
    this.value.value = row ? prettyJson(row.valueJson) : '';
    this.setOutcome(
      asTemplate
        ? row
          ? 'Template from the selected row: change the key, then Insert.'
          : 'Type the key and value as JSON, then Insert.'
        : '',
      'none',
    );
    (asTemplate ? this.key : this.value).focus();
  }

  private write(op: Write['op']): void {
    const key = this.key.value;
    if (key.trim() === '') {
      this.setOutcome('Type a key first (Edit selected fills it from the table).', 'error');
      this.key.focus();
      return;
    }
    const w: Write = op === 'delete' ? { type: 'write', op, key } : { type: 'write', op, key, value: this.value.value };
    this.busy(true);
    this.setOutcome(`${OP_WORDS[op]}… waiting for the node's answer.`, 'pending');
    clearTimeout(this.stall);
    this.stall = setTimeout(() => {
      this.busy(false);
      this.setOutcome('No answer yet from the node; the write may still be in progress.', 'pending');
    }, STALL_MS);
    this.send(w);
  }

  private busy(on: boolean): void {
    for (const b of this.writeButtons) b.disabled = on;
  }

  private setOutcome(text: string, kind: 'ok' | 'error' | 'pending' | 'none'): void {
    this.outcome.textContent = text;
    this.outcome.className = `outcome ${kind}`;
    this.outcome.hidden = text === '';
  }
}
