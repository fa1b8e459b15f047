// Kernel probes (see probe_ops.h). Each loads a program of a few instructions that the kernel
// frees at once; none is attached, pinned or kept.
//
// The kfunc probe: the kernel registers kfuncs per program type in BTF id sets that
// /sys/kernel/btf does not expose, and libbpf has no probe for them. A program that calls the
// kfunc (BPF_PSEUDO_KFUNC_CALL to its vmlinux BTF id) and exits is loaded per type; the
// verifier checks a kfunc call's program type first (fetch_kfunc_meta: "calling kernel
// function <name> is not allowed") and only then its arguments, so a load that got past
// instruction 0 without that message means the type may call it, whatever failed next.
#include "probe_ops.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "errors.h"
#include "names.h"
#include "unique_fd.h"

namespace dfs {

namespace {

// The program type named by argument `value` (libbpf's name), or nullopt after throwing.
std::optional<bpf_prog_type> ProgTypeArg(Napi::Env env, Napi::Value value, const char *what) {
  const auto name = StringArg(env, value, what);
  if (!name) return std::nullopt;
  const auto type = ProgTypeByName(*name);
  if (!type) ThrowRangeError(env, "unknown program type '" + *name + "'");
  return type;
}

// Argument `value` as an array of at most `most` elements, or nullopt after throwing.
std::optional<Napi::Array> ArrayArg(Napi::Env env, Napi::Value value, const char *what, uint32_t most) {
  if (!value.IsArray()) {
    ThrowTypeError(env, std::string(what) + " must be an array");
    return std::nullopt;
  }
  const auto array = value.As<Napi::Array>();
  if (array.Length() > most) {
    ThrowRangeError(env, "at most " + std::to_string(most) + " " + what);
    return std::nullopt;
  }
  return array;
}

}  // namespace

// libbpf_probe_bpf_prog_type: 1 this kernel loads programs of the type, 0 it does not, <0 -errno.
Napi::Value ProbeProgType(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto type = ProgTypeArg(env, info[0], "type");
  if (!type) return {};
  LibbpfMessageScope messages;
  return Napi::Number::New(env, libbpf_probe_bpf_prog_type(*type, nullptr));
}

Napi::Value ProbeMapType(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto name = StringArg(env, info[0], "type");
  if (!name) return {};
  const auto type = MapTypeByName(*name);
  if (!type) {
    ThrowRangeError(env, "unknown map type '" + *name + "'");
    return {};
  }
  LibbpfMessageScope messages;
  return Napi::Number::New(env, libbpf_probe_bpf_map_type(*type, nullptr));
}

// The largest helper id, and the most ids, one probeHelpers call takes: the kernel's last
// helper (bpf_func_id) is 211 on 6.18, so 4096 leaves room for every kernel to come.
constexpr int64_t kMaxHelperId = 4096;

// libbpf_probe_bpf_helper(type, id) for each id, in order: 1 the kernel accepts the helper in a
// program of that type, 0 it does not, <0 -errno when the probe cannot tell (libbpf refuses
// tracing, ext, lsm and struct_ops with -EOPNOTSUPP: they load only against an attach target).
// Every probe loads a two-instruction program (call, exit) that is never attached.
Napi::Value ProbeHelpers(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto type = ProgTypeArg(env, info[0], "progType");
  if (!type) return {};
  const auto ids = ArrayArg(env, info[1], "helperIds", kMaxHelperId);
  if (!ids) return {};
  // Every id is checked before the first probe, so a bad one costs no kernel work.
  std::vector<int64_t> wanted;
  wanted.reserve(ids->Length());
  for (uint32_t i = 0; i < ids->Length(); i++) {
    const std::string what = "helperIds[" + std::to_string(i) + "]";
    const auto id = IntegerArg(env, ids->Get(i), what.c_str(), 1, kMaxHelperId);
    if (!id) return {};
    wanted.push_back(*id);
  }
  std::vector<int> results;
  results.reserve(wanted.size());
  {
    LibbpfMessageScope messages;
    // An id past the kernel's last helper is what the probe is for ("invalid func unknown#N"
    // → 0); the enum is int-sized by the ABI, so any id up to kMaxHelperId passes unchanged.
    for (const int64_t id : wanted)
      results.push_back(libbpf_probe_bpf_helper(*type, static_cast<bpf_func_id>(id), nullptr));
  }
  Napi::Array out = Napi::Array::New(env, results.size());
  for (uint32_t i = 0; i < results.size(); i++) out.Set(i, Napi::Number::New(env, results[i]));
  return out;
}

namespace {

// The most kfunc names one probeKfuncs call takes, and the longest name (the kernel's
// KSYM_NAME_LEN is 512; kfunc names are identifiers far shorter).
constexpr uint32_t kMaxKfuncs = 4096;
constexpr size_t kMaxKfuncName = 128;

// The verifier's log of one probe load: enough for the two instructions' messages.
constexpr size_t kProbeLog = 16 * 1024;

struct BtfDeleter {
  void operator()(btf *b) const { btf__free(b); }
};

// How a program of `type` is loaded for a probe: the attach type (and target) the kernel wants
// for types that have one. For the types libbpf's own probe_prog_load covers these are its
// choices; "tracing" is probed as a tp_btf program on sys_enter (what loads on kernels without
// fentry), "lsm" on the file_open hook. ext and struct_ops need a target program or a struct
// ops type, so their loads fail before the call and they get no verdict.
struct ProbeSetup {
  bpf_attach_type expected = static_cast<bpf_attach_type>(0);
  uint32_t attachBtfId = 0;
  uint32_t flags = 0;
};

ProbeSetup SetupFor(bpf_prog_type type, const btf *vmlinux) {
  ProbeSetup s;
  switch (type) {
    case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
      s.expected = BPF_CGROUP_INET4_CONNECT;
      break;
    case BPF_PROG_TYPE_CGROUP_SOCKOPT:
      s.expected = BPF_CGROUP_GETSOCKOPT;
      break;
    case BPF_PROG_TYPE_SK_LOOKUP:
      s.expected = BPF_SK_LOOKUP;
      break;
    case BPF_PROG_TYPE_LIRC_MODE2:
      s.expected = BPF_LIRC_MODE2;
      break;
    case BPF_PROG_TYPE_NETFILTER:
      s.expected = BPF_NETFILTER;
      break;
    case BPF_PROG_TYPE_SYSCALL:
      s.flags = BPF_F_SLEEPABLE;
      break;
    case BPF_PROG_TYPE_TRACING: {
      s.expected = BPF_TRACE_RAW_TP;
      const int id = btf__find_by_name_kind(vmlinux, "btf_trace_sys_enter", BTF_KIND_TYPEDEF);
      s.attachBtfId = id > 0 ? static_cast<uint32_t>(id) : 0;
      break;
    }
    case BPF_PROG_TYPE_LSM: {
      s.expected = BPF_LSM_MAC;
      const int id = btf__find_by_name_kind(vmlinux, "bpf_lsm_file_open", BTF_KIND_FUNC);
      s.attachBtfId = id > 0 ? static_cast<uint32_t>(id) : 0;
      break;
    }
    default:
      break;
  }
  return s;
}

// The verifier's last meaningful line (not its "processed N insns" summary), or errno's text.
std::string LastLogLine(const char *log, int err) {
  std::string last;
  const char *line = log;
  while (*line != '\0') {
    const char *end = std::strchr(line, '\n');
    const size_t length = end != nullptr ? static_cast<size_t>(end - line) : std::strlen(line);
    std::string text(line, length);
    if (!text.empty() && text.rfind("processed ", 0) != 0) last = text;
    if (end == nullptr) break;
    line = end + 1;
  }
  return last.empty() ? std::string(std::strerror(PositiveErrno(err))) : last;
}

enum KfuncVerdict : int { kRefused = 0, kAllowed = 1, kNotInBtf = -1, kNoVerdict = -2 };

}  // namespace

// probeKfuncs(progType, names) → { verdicts, unclear }: for each name, in order, 1 a program
// of the type may call the kfunc, 0 it may not, -1 vmlinux BTF has no function of that name,
// -2 the load failed before the verifier judged the call (`unclear` then holds the first such
// load's last log line). Every name is checked before the first load.
Napi::Value ProbeKfuncs(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto type = ProgTypeArg(env, info[0], "progType");
  if (!type) return {};
  const auto list = ArrayArg(env, info[1], "names", kMaxKfuncs);
  if (!list) return {};
  std::vector<std::string> names;
  names.reserve(list->Length());
  for (uint32_t i = 0; i < list->Length(); i++) {
    const std::string what = "names[" + std::to_string(i) + "]";
    auto name = StringArg(env, list->Get(i), what.c_str());
    if (!name) return {};
    if (name->empty() || name->size() > kMaxKfuncName || name->find('\0') != std::string::npos) {
      ThrowRangeError(env, what + " must be a name of 1.." + std::to_string(kMaxKfuncName) + " bytes");
      return {};
    }
    names.push_back(std::move(*name));
  }

  LibbpfMessageScope messages;
  std::unique_ptr<btf, BtfDeleter> vmlinux(btf__load_vmlinux_btf());
  if (!vmlinux) {
    ThrowNativeError(env, "btf__load_vmlinux_btf", -errno);
    return {};
  }
  const ProbeSetup setup = SetupFor(*type, vmlinux.get());
  // One pass over the ~150,000 types: btf__find_by_name_kind per name would scan them each time.
  std::unordered_map<std::string_view, int> functions;
  for (const std::string &name : names) functions.emplace(name, 0);
  const uint32_t count = btf__type_cnt(vmlinux.get());
  for (uint32_t id = 1; id < count; id++) {
    const btf_type *t = btf__type_by_id(vmlinux.get(), id);
    if (btf_kind(t) != BTF_KIND_FUNC) continue;
    const auto found = functions.find(btf__name_by_offset(vmlinux.get(), t->name_off));
    if (found != functions.end() && found->second == 0) found->second = static_cast<int>(id);
  }
  std::vector<char> log(kProbeLog);
  std::vector<int> verdicts;
  verdicts.reserve(names.size());
  std::string unclear;
  for (const std::string &name : names) {
    const int id = functions[name];
    if (id == 0) {
      verdicts.push_back(kNotInBtf);
      continue;
    }
    const bpf_insn insns[] = {
        {BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, id},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    log[0] = '\0';
    bpf_prog_load_opts opts{};
    opts.sz = sizeof opts;
    opts.prog_flags = setup.flags;
    opts.expected_attach_type = setup.expected;
    opts.attach_btf_id = setup.attachBtfId;
    opts.log_level = 1;
    opts.log_size = static_cast<__u32>(log.size());
    opts.log_buf = log.data();
    const int fd = bpf_prog_load(*type, nullptr, "GPL", insns, 3, &opts);
    const int err = fd < 0 ? -errno : 0;
    UniqueFd closer(fd);
    const std::string refused = "calling kernel function " + name + " is not allowed";
    if (std::strstr(log.data(), refused.c_str()) != nullptr) {
      verdicts.push_back(kRefused);
    } else if (fd >= 0 || (std::strstr(log.data(), "processed 0 insns") == nullptr &&
                           std::strstr(log.data(), "processed ") != nullptr)) {
      // The verifier walked the call and went on (or failed later, on arguments or state).
      verdicts.push_back(kAllowed);
    } else {
      if (unclear.empty()) unclear = LastLogLine(log.data(), err);
      verdicts.push_back(kNoVerdict);
    }
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Array values = Napi::Array::New(env, verdicts.size());
  for (uint32_t i = 0; i < verdicts.size(); i++) values.Set(i, Napi::Number::New(env, verdicts[i]));
  out.Set("verdicts", values);
  out.Set("unclear", unclear.empty() ? env.Null() : Napi::String::New(env, unclear));
  return out;
}

}  // namespace dfs
