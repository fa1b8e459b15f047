/** The shared protocol: agent messages, webview messages, error codes and the bypass ABI. No runtime dependencies. */
export * from './messages';
export * from './verify';
export * from './profile';
export * from './errors';
export * from './bypass';
export * from './webview';
export * from './units';
export * from './inspect';
export * from './editing';
