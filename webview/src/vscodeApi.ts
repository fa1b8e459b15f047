/** The webview side of the typed channel: acquireVsCodeApi() once, typed post/receive. */

interface VsCodeApi<Out> {
  postMessage(message: Out): void;
}
declare function acquireVsCodeApi<Out>(): VsCodeApi<Out>;

export function channel<In, Out>(onMessage: (m: In) => void): (m: Out) => void {
  const api = acquireVsCodeApi<Out>();
  window.addEventListener('message', (e: MessageEvent<In>) => onMessage(e.data));
  return (m) => api.postMessage(m);
}
