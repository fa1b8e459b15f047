/** The agent's version, injected by esbuild from package.json (`__DFS_VERSION__`). */
declare const __DFS_VERSION__: string;
export const AGENT_VERSION: string = typeof __DFS_VERSION__ === 'string' ? __DFS_VERSION__ : '0.0.0-dev';
