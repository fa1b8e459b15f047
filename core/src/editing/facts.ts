/**
 * The node's kernel as the editing checks and hovers see it (check.ts KernelFacts, plus the
 * kfuncs' signatures): which helpers and kfuncs each program type may call (the agent probes
 * its kernel: `kernel/helpers`, `kernel/kfuncs`), which raw tracepoint events and kfuncs its BTF
 * has (read from the BTF the vmlinux.h cache keeps: build/vmlinux.ts), and, asked per target
 * as sources name them, whether
 * a tracepoint or a uprobe's binary and symbol exist (`kernel/targets`). What a kernel says is
 * cached beside its vmlinux.h (per release and BTF digest), so a second session asks nothing
 * but the digest and the targets it has not seen.
 */

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ErrorCode,
  KERNEL_TARGETS_LIMITS,
  KERNEL_KFUNCS_LIMITS,
  KernelHelpersRequest,
  KernelKfuncsRequest,
  KernelTargetsRequest,
  TRACEPOINT_NAME,
  type KernelTargetsResult,
} from '@dfs/protocol';
import { DfsError } from '../errors';
import { BtfKind, parseBtf, type Btf } from '../btf';
import { nodeKernelHeaders, type AgentRequester } from '../build/vmlinux';
import {
  checkSource,
  targetKey,
  unansweredTargets,
  type AttachTarget,
  type CheckDiagnostic,
  type KernelFacts,
  type KfuncFacts,
  type TargetAnswer,
} from './check';
import { HELPERS, HELPERS_SOURCE, SECTIONS } from './data';
import { scanSource } from './source';

/** A kfunc of the node's kernel (a function its BTF tags `bpf_kfunc`). */
export interface KfuncDoc {
  name: string;
  /** Its C declaration, as the BTF spells it. */
  signature: string;
}

/** The kernel's facts, the kfuncs, and how to ask about more targets. */
export interface NodeFacts {
  facts: KernelFacts;
  kfuncs: ReadonlyMap<string, KfuncDoc>;
  /** Ask the node about targets not answered yet; the answers land in `facts.targets`. */
  answer(targets: AttachTarget[]): Promise<void>;
}

interface BtfFacts {
  btfEvents: string[];
  kfuncs: KfuncDoc[];
}

/** Raw tracepoint events (`btf_trace_<event>` typedefs) and tagged kfuncs of a kernel's BTF. */
export function btfFacts(btf: Btf): BtfFacts {
  const btfEvents: string[] = [];
  const kfuncs: KfuncDoc[] = [];
  for (let id = 1; id < btf.count; id++) {
    const t = btf.type(id);
    if (t.kind === BtfKind.Typedef && t.name.startsWith('btf_trace_')) btfEvents.push(t.name.slice(10));
    else if (t.kind === BtfKind.DeclTag && t.name === 'bpf_kfunc' && t.componentIdx === -1) {
      const fn = btf.type(t.type);
      if (fn.kind !== BtfKind.Func) continue;
      const proto = btf.type(fn.type);
      if (proto.kind !== BtfKind.FuncProto) continue;
      const params = proto.params.map((p) => (p.type === 0 ? '...' : declare(btf.typeName(p.type), p.name)));
      kfuncs.push({
        name: fn.name,
        signature: `${declare(btf.typeName(proto.type), fn.name)}(${params.join(', ') || 'void'})`,
      });
    }
  }
  btfEvents.sort();
  kfuncs.sort((a, b) => a.name.localeCompare(b.name));
  return { btfEvents, kfuncs };
}

/** `T name`, or `T *name` when T is a pointer (C spelling). */
function declare(type: string, name: string): string {
  return type.endsWith('*') ? `${type}${name}` : `${type} ${name}`.trim();
}

function readJson<T>(file: string): T | null {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : null;
  } catch {
    return null; // a damaged cache file is rebuilt
  }
}

function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

/** Every program type libbpf's sections lead to (what `kernel/helpers` is asked about). */
export function sectionProgTypes(): string[] {
  return [...new Set(SECTIONS.map((s) => s.progType))].sort();
}

type HelperCache = { source: string; types: Record<string, number[] | { error: string }> };
type KfuncCache = {
  source: string;
  types: Record<string, { allowed: string[]; unjudged: string[] } | { error: string }>;
};

/** Program types per `kernel/kfuncs` request: each costs a load per kfunc, and the agent serves one request at a time. */
const KFUNC_TYPES_PER_REQUEST = 8;

/** JSON-RPC's "method not found": an agent from before the request. */
const METHOD_NOT_FOUND = -32601;

/** The answer, or null when the node's agent is from before the request (the rest of the facts still load). */
async function unlessOlderAgent<T>(answer: Promise<T>): Promise<T | null> {
  try {
    return await answer;
  } catch (err) {
    if (err instanceof DfsError && (err.code as number) === METHOD_NOT_FOUND) return null;
    throw err;
  }
}

/**
 * Which kfuncs each program type may call, from the cache or the agent; null when the node's
 * agent predates `kernel/kfuncs` (kfunc calls then go unjudged, and the hover says so).
 */
async function kfuncFacts(agent: AgentRequester, dir: string, names: string[]): Promise<KfuncFacts | null> {
  const file = join(dir, 'editing-kfuncs.json');
  const source = `kernel/kfuncs ${names.length} names`;
  let cache = readJson<KfuncCache>(file);
  if (!cache || cache.source !== source) {
    const progTypes = sectionProgTypes();
    const types: KfuncCache['types'] = {};
    for (let i = 0; i < progTypes.length; i += KFUNC_TYPES_PER_REQUEST) {
      for (let j = 0; j < names.length; j += KERNEL_KFUNCS_LIMITS.names) {
        const r = await unlessOlderAgent(
          agent.request(KernelKfuncsRequest, {
            progTypes: progTypes.slice(i, i + KFUNC_TYPES_PER_REQUEST),
            names: names.slice(j, j + KERNEL_KFUNCS_LIMITS.names),
          }),
        );
        if (!r) return null;
        for (const t of r.types) {
          const had = types[t.progType] ?? { allowed: [], unjudged: [] };
          if (t.error !== undefined || !t.allowed) types[t.progType] = { error: t.error ?? 'not probed' };
          else if (!('error' in had)) {
            types[t.progType] = {
              allowed: [...had.allowed, ...t.allowed],
              unjudged: [...had.unjudged, ...(t.unjudged ?? [])],
            };
          }
        }
      }
    }
    cache = { source, types };
    writeJson(file, cache);
  }
  return {
    names: new Set(names),
    byType: new Map(
      Object.entries(cache.types).map(
        ([type, v]) =>
          [type, 'error' in v ? v : { allowed: new Set(v.allowed), unjudged: new Set(v.unjudged) }] as const,
      ),
    ),
  };
}

/** The facts of the node behind `agent`: BTF-derived and helper facts cached per kernel. */
export async function loadNodeFacts(agent: AgentRequester): Promise<NodeFacts> {
  const headers = await nodeKernelHeaders(agent);
  const btfFile = join(headers.dir, 'editing-btf.json');
  let fromBtf = readJson<BtfFacts>(btfFile);
  if (!fromBtf) {
    fromBtf = btfFacts(parseBtf(readFileSync(join(headers.dir, 'vmlinux.btf'))));
    writeJson(btfFile, fromBtf);
  }
  const maxHelperId = Math.max(...HELPERS.map((h) => h.id));
  const source = `${HELPERS_SOURCE} max ${maxHelperId}`;
  const helperFile = join(headers.dir, 'editing-helpers.json');
  let helpers = readJson<HelperCache>(helperFile);
  if (!helpers || helpers.source !== source) {
    const r = await unlessOlderAgent(
      agent.request(KernelHelpersRequest, { progTypes: sectionProgTypes(), maxHelperId }),
    );
    // An agent from before kernel/helpers: helper calls go unjudged (nothing is cached).
    helpers = {
      source,
      types: Object.fromEntries(
        (r?.types ?? []).map((t) => [t.progType, t.allowed ?? { error: t.error ?? 'not probed' }]),
      ),
    };
    if (r) writeJson(helperFile, helpers);
  }
  const kfuncs = await kfuncFacts(
    agent,
    headers.dir,
    fromBtf.kfuncs.map((k) => k.name),
  );
  const targets = new Map<string, TargetAnswer>();
  const facts: KernelFacts = {
    release: headers.release,
    helpers: new Map(
      Object.entries(helpers.types).map(([type, v]) => [type, Array.isArray(v) ? new Set(v) : v] as const),
    ),
    kfuncs,
    btfEvents: new Set(fromBtf.btfEvents),
    targets,
  };
  return {
    facts,
    kfuncs: new Map(fromBtf.kfuncs.map((k) => [k.name, k])),
    answer: async (asked) => {
      const fresh = asked.filter((t) => !targets.has(targetKey(t)));
      // Names the agent would refuse (and with them the whole batch) are not asked: the check
      // says nothing about them.
      const tps = fresh.filter(
        (t): t is Extract<AttachTarget, { kind: 'tracepoint' }> =>
          t.kind === 'tracepoint' && TRACEPOINT_NAME.test(`${t.category}/${t.name}`),
      );
      const ups = fresh.filter((t): t is Extract<AttachTarget, { kind: 'uprobe' }> => t.kind === 'uprobe');
      const per = KERNEL_TARGETS_LIMITS.entries;
      for (let i = 0; i < Math.max(tps.length, ups.length); i += per) {
        const tp = tps.slice(i, i + per);
        const up = ups.slice(i, i + per);
        let r: KernelTargetsResult | null;
        try {
          r = await unlessOlderAgent(
            agent.request(KernelTargetsRequest, {
              tracepoints: tp.map((t) => `${t.category}/${t.name}`),
              uprobes: up.map((t) => ({ binary: t.binary, symbol: t.symbol })),
            }),
          );
        } catch (err) {
          // No tracefs on the node: targets stay unjudged.
          if (err instanceof DfsError && err.code === ErrorCode.KernelFeatureMissing) return;
          throw err;
        }
        // An agent from before this request: targets stay unjudged.
        if (!r) return;
        const answered = r;
        tp.forEach((t, j) =>
          targets.set(
            targetKey(t),
            answered.tracepoints[j]
              ? { exists: true }
              : { exists: false, why: `no events/${t.category}/${t.name} in its tracefs` },
          ),
        );
        up.forEach((t, j) => {
          const u = answered.uprobes[j];
          if (!u) return;
          targets.set(
            targetKey(t),
            u.binary === 'missing'
              ? { exists: false, why: `${t.binary} does not exist on the node` }
              : u.binary === 'not-elf'
                ? { exists: false, why: `${t.binary} is not an ELF binary` }
                : u.symbol
                  ? { exists: true }
                  : { exists: false, why: `${t.binary} does not define a function ${t.symbol}` },
          );
        });
      }
    },
  };
}

/** Check one source against a node (asking it about the targets the source names), or without one. */
export async function checkText(text: string, node: NodeFacts | null): Promise<CheckDiagnostic[]> {
  const model = scanSource(text);
  if (node) await node.answer(unansweredTargets(model, node.facts));
  return checkSource(model, node?.facts ?? null);
}
