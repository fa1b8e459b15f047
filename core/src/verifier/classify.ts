/**
 * The class of a verifier rejection, from the kernel's reason, with a one-line explanation and
 * the usual fix. Pure and dependency-free (the log explorer webview imports it too).
 *
 * Every pattern is a message the kernel prints. Those marked "6.18" were seen on this project's
 * test kernel while loading test/fixtures/bpf/verifier/ (or, for the uninitialized-stack reads,
 * while loading with CAP_PERFMON and CAP_SYS_ADMIN dropped, since root may read uninitialized
 * stack); the others are the wording of older kernels or of unprivileged loads, kept so logs from
 * older test nodes are explained too. Rules are tried in order; the first match wins.
 */

import type { VerifierClass } from './model';

interface Rule {
  class: VerifierClass;
  /** Tested against the joined reason lines. */
  pattern: RegExp;
  explanation: string;
  /** Extra condition on the match (for messages shared by two classes). */
  when?: (m: RegExpExecArray) => boolean;
}

const NULL_CHECK =
  'The pointer may be NULL here (a map lookup, ring buffer reservation or socket lookup can fail): test it against NULL before using it.';
const OUT_OF_BOUNDS =
  'The access can reach past the end of the object (map value, ring buffer record, stack buffer): make the size or offset fit, or clamp the index to the real size.';
const UNBOUNDED_INDEX =
  'The offset added to the pointer has no known bounds: check the index against the array size (and against 0 if signed) right before using it, or mask it.';
const UNINIT_STACK =
  'Stack memory (or a register, dynptr or iterator) is read before anything initialized it: zero it or pass it to the helper or kfunc that initializes it first.';
const PACKET_ACCESS =
  'Packet data is read before proving it lies inside the packet: compare data + offset + size against data_end first, for every header you read.';
const HELPER_NOT_ALLOWED =
  'This helper or kfunc is not available to this program type, license or context: use a program type that may call it, or an allowed alternative.';
const BAD_RETURN =
  'The program may return a value its type does not accept (e.g. cgroup programs return 0 or 1): return only the documented verdicts.';
const LOOP_COMPLEXITY =
  'The verifier cannot prove the loop ends within its limits (1M processed instructions, 8192 pending branches): bound the loop with a small constant, or use bpf_loop() or an iterator.';
const UNRELEASED_REFERENCE =
  'A reference (socket, ring buffer record, task, ...) is still held when the program exits: release, submit or discard it on every path.';
const INVALID_CONTEXT =
  'The context is accessed at an offset, size or direction its program type does not allow: read only the documented fields, with their own size, and write only writable ones.';
const OTHER = 'See the verifier message; the instruction and register state show what it checked.';

const RULES: Rule[] = [
  // 6.18: "R0 invalid mem access 'map_value_or_null'" (also 'ringbuf_mem_or_null', 'sock_or_null')
  { class: 'null-check', pattern: /invalid mem access '\w*or_null\w*'/, explanation: NULL_CHECK },
  // 6.18: "R1 type=ringbuf_mem_or_null expected=ringbuf_mem"
  { class: 'null-check', pattern: /type=\w*or_null\w* expected=/, explanation: NULL_CHECK },
  // 6.18: "Possibly NULL pointer passed to trusted arg0"
  { class: 'null-check', pattern: /Possibly NULL pointer passed to/, explanation: NULL_CHECK },

  // 6.18: "math between map_value pointer and register with unbounded min value is not allowed"
  {
    class: 'unbounded-index',
    pattern: /math between \w+ pointer and register with unbounded/,
    explanation: UNBOUNDED_INDEX,
  },
  // 6.18: "R0 unbounded memory access, make sure to bounds check any such access"
  { class: 'unbounded-index', pattern: /unbounded memory access/, explanation: UNBOUNDED_INDEX },
  // 6.18: "value -17179869184 makes map_value pointer be out of bounds"
  { class: 'unbounded-index', pattern: /value -?\d+ makes \w+ pointer be out of bounds/, explanation: UNBOUNDED_INDEX },
  // older kernels: "R1 min value is negative, either use unsigned index or do a if (index >=0) check."
  {
    class: 'unbounded-index',
    pattern: /min value is negative, either use unsigned index/,
    explanation: UNBOUNDED_INDEX,
  },
  { class: 'unbounded-index', pattern: /invalid unbounded variable-offset/, explanation: UNBOUNDED_INDEX },

  // 6.18 (without CAP_PERFMON): "invalid read from stack R10 off=-64 size=8", "... R2 off=-4 size=4".
  // The same words report a read outside the frame ("R10 off=8 size=8"): only in-frame is uninit.
  {
    class: 'uninit-stack',
    pattern: /invalid (?:indirect )?read from stack R\d+ off=(-?\d+) size=(\d+)/,
    explanation: UNINIT_STACK,
    when: (m) => Number(m[1]) < 0 && Number(m[1]) + Number(m[2]) <= 0 && Number(m[1]) >= -512,
  },
  // older kernels: "invalid indirect read from stack off -8+0 size 8"
  {
    class: 'uninit-stack',
    pattern: /invalid (?:indirect )?read from stack (?:R\d+ )?off -?\d+\+\d+ size/,
    explanation: UNINIT_STACK,
  },
  // 6.18: "Expected an initialized dynptr as arg #2", "expected an initialized iter_num as arg #0"
  { class: 'uninit-stack', pattern: /[Ee]xpected an initialized (?:dynptr|iter)/, explanation: UNINIT_STACK },
  // 6.18: "R7 !read_ok" (a register never written)
  { class: 'uninit-stack', pattern: /R\d+ !read_ok/, explanation: UNINIT_STACK },

  // 6.18: "invalid access to map value, value_size=128 off=248 size=8"
  { class: 'out-of-bounds', pattern: /invalid access to map value/, explanation: OUT_OF_BOUNDS },
  // 6.18: "invalid access to memory, mem_size=8 off=8 size=8"
  { class: 'out-of-bounds', pattern: /invalid access to memory/, explanation: OUT_OF_BOUNDS },
  // 6.18: "invalid write to stack R1 off=-8 size=16", "invalid read from stack R10 off=8 size=8"
  {
    class: 'out-of-bounds',
    pattern: /invalid (?:variable-offset )?(?:write to|read from|indirect access to|indirect read from) stack/,
    explanation: OUT_OF_BOUNDS,
  },
  // 6.18: "access beyond struct task_struct at off 99999 size 4"
  { class: 'out-of-bounds', pattern: /access beyond struct/, explanation: OUT_OF_BOUNDS },
  { class: 'out-of-bounds', pattern: /value is outside of the allowed memory range/, explanation: OUT_OF_BOUNDS },

  // 6.18: "invalid access to packet, off=12 size=2, R1(id=0,off=12,r=0)" / "R1 offset is outside of the packet"
  {
    class: 'packet-access',
    pattern: /invalid access to packet|offset is outside of the packet/,
    explanation: PACKET_ACCESS,
  },

  // 6.18: "program of this type cannot use helper bpf_redirect#23"; older kernels: "unknown func bpf_redirect#23"
  { class: 'helper-not-allowed', pattern: /cannot use helper|unknown func \w+#\d+/, explanation: HELPER_NOT_ALLOWED },
  // 6.18: "cannot call GPL-restricted function from non-GPL compatible program"
  { class: 'helper-not-allowed', pattern: /cannot call GPL-restricted function/, explanation: HELPER_NOT_ALLOWED },
  // 6.18: "calling kernel function bpf_task_from_pid is not allowed"
  {
    class: 'helper-not-allowed',
    pattern: /calling kernel function \w+ is not allowed/,
    explanation: HELPER_NOT_ALLOWED,
  },
  // 6.18: "helper call might sleep in a non-sleepable prog"
  {
    class: 'helper-not-allowed',
    pattern: /might sleep in a non-sleepable prog|sleepable helper .* in non-sleepable prog/,
    explanation: HELPER_NOT_ALLOWED,
  },

  // 6.18: "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]";
  // older kernels: "At program exit the register R0 has value (0x2; 0x0) should have been in (0x0; 0x1)"
  { class: 'bad-return', pattern: /exit the register R0 has .* should have been in/, explanation: BAD_RETURN },

  // 6.18: "infinite loop detected at insn 3"
  { class: 'loop-complexity', pattern: /infinite loop detected/, explanation: LOOP_COMPLEXITY },
  // 6.18: "BPF program is too large. Processed 1000001 insn"
  { class: 'loop-complexity', pattern: /BPF program is too large/, explanation: LOOP_COMPLEXITY },
  // 6.18: "The sequence of 8193 jumps is too complex."
  { class: 'loop-complexity', pattern: /The sequence of \d+ jumps is too complex/, explanation: LOOP_COMPLEXITY },
  // unprivileged loads and kernels before 5.3: "back-edge from insn 7 to 3"
  { class: 'loop-complexity', pattern: /back-edge from insn/, explanation: LOOP_COMPLEXITY },

  // 6.18: "Unreleased reference id=2 alloc_insn=5" / "... would lead to reference leak"
  {
    class: 'unreleased-reference',
    pattern: /Unreleased reference|would lead to reference leak/,
    explanation: UNRELEASED_REFERENCE,
  },

  // 6.18: "invalid bpf_context access off=20 size=4"
  { class: 'invalid-context', pattern: /invalid bpf_context access/, explanation: INVALID_CONTEXT },
  // 6.18: "dereference of modified ctx ptr R1 off=4 disallowed"
  { class: 'invalid-context', pattern: /dereference of modified ctx ptr/, explanation: INVALID_CONTEXT },

  // 6.18: "R1 invalid mem access 'scalar'"
  {
    class: 'other',
    pattern: /invalid mem access 'scalar'/,
    explanation:
      'A plain number is dereferenced as a pointer (e.g. a pointer read from a tracepoint argument): read through it with bpf_probe_read_kernel() or BPF_CORE_READ().',
  },
];

/**
 * Classifies the verifier's reason (`message`, the error lines joined with " | ") for the
 * failing instruction `insnText` (e.g. "(85) call bpf_redirect#23"; used only as context).
 */
export function classify(message: string, insnText: string): { class: VerifierClass; explanation: string } {
  for (const rule of RULES) {
    const m = rule.pattern.exec(message);
    if (m && (!rule.when || rule.when(m))) return { class: rule.class, explanation: rule.explanation };
  }
  return { class: 'other', explanation: insnText ? `${OTHER} (failing instruction: ${insnText})` : OTHER };
}
