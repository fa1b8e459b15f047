/**
 * The only module that imports the UI toolkit (@vscode/webview-ui-toolkit, archived upstream
 * in 2025): panels use the custom elements it registers (`vscode-button`, `vscode-badge`,
 * `vscode-divider`) and never import it themselves, so swapping it for
 * @vscode-elements/elements is a change to this file.
 */

import { provideVSCodeDesignSystem, vsCodeBadge, vsCodeButton, vsCodeDivider } from '@vscode/webview-ui-toolkit';

export function registerComponents(): void {
  provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeBadge(), vsCodeDivider());
}

export function button(
  label: string,
  onClick: () => void,
  appearance: 'primary' | 'secondary' = 'primary',
): HTMLElement {
  const b = document.createElement('vscode-button');
  b.setAttribute('appearance', appearance);
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

export function badge(text: string): HTMLElement {
  const b = document.createElement('vscode-badge');
  b.textContent = text;
  return b;
}

export function divider(): HTMLElement {
  return document.createElement('vscode-divider');
}
