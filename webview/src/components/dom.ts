/** Small DOM builders shared by the panels: elements with text (never HTML) and search marks. */

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  cls?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** Appends `text` to `parent` in a span of class `cls`, marking every occurrence of `query`. */
export function marked(parent: HTMLElement, text: string, cls: string, query: string): void {
  const span = el('span', undefined, cls);
  if (!query) {
    span.textContent = text;
    parent.append(span);
    return;
  }
  const hay = query === query.toLowerCase() ? text.toLowerCase() : text;
  let at = 0;
  for (let i = hay.indexOf(query); i >= 0; i = hay.indexOf(query, at)) {
    if (i > at) span.append(text.slice(at, i));
    span.append(el('mark', text.slice(i, i + query.length)));
    at = i + query.length;
  }
  if (at < text.length) span.append(text.slice(at));
  parent.append(span);
}
