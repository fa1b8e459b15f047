/**
 * The logging seam of the core: the extension backs it with its LogOutputChannel, the CLI
 * with stderr (only with --verbose), tests with an array. Core code never writes to the
 * console directly.
 */

export interface Logger {
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const nullLogger: Logger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Progress reporting for long steps (notifications in VS Code, stderr lines in the CLI). */
export type Progress = (step: string) => void;
export const noProgress: Progress = () => undefined;
