/**
 * Typed access to the editing help's generated data (data/*.json; never edit them by hand,
 * regenerate): every BPF helper of bpf_helper_defs.h and libbpf's section_defs[] table
 * (scripts/editing-data.mjs, from the pinned libbpf), and the kfuncs' prose from the kernel-doc
 * of a pinned Linux source (scripts/kfunc-docs.mjs; a kfunc's signature comes from the node's
 * BTF, facts.ts). The JSON is bundled by esbuild into whatever imports this module, so it works
 * the same in the extension, the CLI and a webview. Pure: no Node, no vscode; everything here
 * is immutable.
 */

import helpersFile from './data/helpers.json';
import kfuncsFile from './data/kfuncs.json';
import sectionsFile from './data/sections.json';

/** One parameter of a helper, as declared: `const void *key` → {type: 'const void *', name: 'key'}. */
export interface HelperArg {
  /** The C type, `*` included; `...` for a variadic tail (then `name` is empty). */
  readonly type: string;
  readonly name: string;
}

/** One BPF helper: its declaration and the kernel's documentation of it. */
export interface HelperDoc {
  readonly name: string;
  /** The helper's number (BPF_FUNC_*), what a `call` instruction in the verifier log shows. */
  readonly id: number;
  /** The C return type, e.g. `void *`, `long`. */
  readonly returns: string;
  /** Empty for `(void)`. */
  readonly args: readonly HelperArg[];
  /** The C prototype, e.g. `void *bpf_map_lookup_elem(void *map, const void *key)`. */
  readonly signature: string;
  /**
   * The kernel's description with the comment decoration removed: lines as in the header,
   * paragraphs separated by a blank line, deeper indentation kept as tabs, and the kernel's
   * `*emphasis*` / `**bold**` markup kept (close to Markdown).
   */
  readonly description: string;
  /** What it returns, in the same form as `description`. */
  readonly returnsDoc: string;
}

/** One entry of libbpf's section_defs[]: a SEC() name pattern and what it makes the program. */
export interface SectionDef {
  /**
   * As libbpf writes it: `sk_msg` (exact), `kprobe+` (`kprobe` or `kprobe/<target>`); a
   * trailing `/` would be a plain prefix (none in libbpf 1.7). See sections.ts.
   */
  readonly name: string;
  /** libbpf's program type name (prog_type_name[]), e.g. `sk_msg`, `sock_ops`, `sched_cls`. */
  readonly progType: string;
  /** The expected attach type, e.g. `BPF_SK_MSG_VERDICT`; null when libbpf sets none. */
  readonly attachType: string | null;
  /** libbpf's SEC_* flags, e.g. `SEC_SLEEPABLE`, `SEC_ATTACH_BTF` (SEC_NONE omitted). */
  readonly flags: readonly string[];
}

/** One documented parameter of a kfunc: `@p: The task ...` → {name: 'p', doc: 'The task ...'}. */
export interface KfuncParamDoc {
  readonly name: string;
  /** On one line, the comment's line breaks turned into spaces. */
  readonly doc: string;
}

/**
 * What the kernel's own comment says of a kfunc (BTF has no prose). The text keeps the kernel's
 * markup (`%NULL`, `@p`, `func()`, double-backquoted code), like HelperDoc's.
 */
export interface KfuncProse {
  readonly name: string;
  /** The comment's first paragraph, on one line: `Acquire a reference to a task. ...`. */
  readonly summary: string;
  /** Further paragraphs, separated by a blank line, lines as in the source; may be empty. */
  readonly description: string;
  /** The documented parameters in the comment's order (names as the comment spells them). */
  readonly params: readonly KfuncParamDoc[];
  /** The `Return:` section (or the `Returns ...` paragraphs), in the form of `description`; may be empty. */
  readonly returns: string;
  /** The kernel source file that defines the kfunc, e.g. `kernel/bpf/helpers.c`. */
  readonly file: string;
}

interface HelpersFile {
  readonly source: string;
  readonly helpers: readonly HelperDoc[];
}
interface SectionsFile {
  readonly source: string;
  readonly sections: readonly SectionDef[];
}
interface KfuncsFile {
  readonly source: string;
  readonly kfuncs: readonly KfuncProse[];
}

// Annotated rather than cast, so the compiler checks the JSON against the interfaces.
const helpersData: HelpersFile = helpersFile;
const sectionsData: SectionsFile = sectionsFile;
const kfuncsData: KfuncsFile = kfuncsFile;

/** Where the helpers come from, e.g. `libbpf 1.7.0 bpf_helper_defs.h`. */
export const HELPERS_SOURCE: string = helpersData.source;
/** Every helper, sorted by id. */
export const HELPERS: readonly HelperDoc[] = helpersData.helpers;

/** Where the sections come from, e.g. `libbpf 1.7.0 libbpf.c section_defs`. */
export const SECTIONS_SOURCE: string = sectionsData.source;
/** libbpf's section table in its own order: the first entry that matches a name wins. */
export const SECTIONS: readonly SectionDef[] = sectionsData.sections;

const byName: ReadonlyMap<string, HelperDoc> = new Map(HELPERS.map((h) => [h.name, h]));

/** The helper called `name` (e.g. `bpf_map_lookup_elem`), if bpf_helper_defs.h declares it. */
export function helperByName(name: string): HelperDoc | undefined {
  return byName.get(name);
}

/** Where the kfuncs' prose comes from, e.g. `Linux 6.12.117 (Debian linux-source-6.12 6.12.117-1~deb12u1)`. */
export const KFUNC_DOCS_SOURCE: string = kfuncsData.source;
/** Every documented kfunc, sorted by name. */
export const KFUNC_DOCS: readonly KfuncProse[] = kfuncsData.kfuncs;

const kfuncsByName: ReadonlyMap<string, KfuncProse> = new Map(KFUNC_DOCS.map((k) => [k.name, k]));

/**
 * The kernel's documentation of the kfunc called `name` (e.g. `bpf_task_acquire`); undefined when
 * the pinned source has no kernel-doc comment on it (or no such kfunc).
 */
export function kfuncProse(name: string): KfuncProse | undefined {
  return kfuncsByName.get(name);
}
