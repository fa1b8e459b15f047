/**
 * What a verifier log means, as data. The types are declared once, in the protocol
 * (protocol/src/verify.ts), because the log explorer webview draws them too; core's modules
 * import them from here under their usual names.
 */

export type {
  Instruction,
  LogLineKind,
  ProgramVerdict,
  SourceLocation,
  VerifierClass,
  VerifierError,
} from '@dfs/protocol';
