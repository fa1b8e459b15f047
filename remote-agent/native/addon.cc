// Module entry point: registers the JS API declared in remote-agent/src/native.ts
// and owns the small module-level functions (version, feature and helper probes, CPU count).
// BpfObject lives in object.cc, BpfLink in link.cc, fd-level ops in kernel_ops.cc,
// the ring buffer poll, run-time stats and map dumps in profile_ops.cc, the explorer's and map
// inspector's queries (map pages, details by id, sockets by cookie) in inspect_*.cc.
#include <bpf/libbpf.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "inspect_ops.h"
#include "kernel_ops.h"
#include "link.h"
#include "names.h"
#include "object.h"
#include "profile_ops.h"
#include "socket_ops.h"

namespace dfs {
namespace {

Napi::Value LibbpfVersion(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

Napi::Value ProbeProgType(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto name = StringArg(env, info[0], "type");
  if (!name) return {};
  const auto type = ProgTypeByName(*name);
  if (!type) {
    ThrowRangeError(env, "unknown program type '" + *name + "'");
    return {};
  }
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
  const auto name = StringArg(env, info[0], "progType");
  if (!name) return {};
  const auto type = ProgTypeByName(*name);
  if (!type) {
    ThrowRangeError(env, "unknown program type '" + *name + "'");
    return {};
  }
  if (!info[1].IsArray()) {
    ThrowTypeError(env, "helperIds must be an array");
    return {};
  }
  const auto ids = info[1].As<Napi::Array>();
  if (ids.Length() > kMaxHelperId) {
    ThrowRangeError(env, "at most " + std::to_string(kMaxHelperId) + " helperIds");
    return {};
  }
  // Every id is checked before the first probe, so a bad one costs no kernel work.
  std::vector<int64_t> wanted;
  wanted.reserve(ids.Length());
  for (uint32_t i = 0; i < ids.Length(); i++) {
    const std::string what = "helperIds[" + std::to_string(i) + "]";
    const auto id = IntegerArg(env, ids.Get(i), what.c_str(), 1, kMaxHelperId);
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

Napi::Value NumPossibleCpus(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const int cpus = libbpf_num_possible_cpus();
  if (cpus < 0) {
    ThrowNativeError(env, "libbpf_num_possible_cpus", cpus);
    return {};
  }
  return Napi::Number::New(env, cpus);
}

template <Napi::Function::Callback Fn>
void Export(Napi::Env env, Napi::Object exports, const char *name) {
  exports.Set(name, Napi::Function::New<Fn>(env, name));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfMessageCapture();
  env.SetInstanceData(new AddonData{Napi::Persistent(BpfObject::DefineClass(env)),
                                    Napi::Persistent(BpfLink::DefineClass(env)),
                                    Napi::Persistent(RingBufferPoll::DefineClass(env))});

  Export<LibbpfVersion>(env, exports, "libbpfVersion");
  Export<BpfObject::Open>(env, exports, "openObject");
  Export<ProbeProgType>(env, exports, "probeProgType");
  Export<ProbeMapType>(env, exports, "probeMapType");
  Export<ProbeHelpers>(env, exports, "probeHelpers");
  Export<NumPossibleCpus>(env, exports, "numPossibleCpus");
  Export<MapLookup>(env, exports, "mapLookup");
  Export<MapUpdate>(env, exports, "mapUpdate");
  Export<MapDelete>(env, exports, "mapDelete");
  Export<MapNextKey>(env, exports, "mapNextKey");
  Export<MapInfo>(env, exports, "mapInfo");
  Export<CgroupProgIds>(env, exports, "cgroupProgIds");
  Export<ProgNameById>(env, exports, "progNameById");
  Export<ProgMapIds>(env, exports, "progMapIds");
  Export<AllProgIds>(env, exports, "allProgIds");
  Export<AllMapIds>(env, exports, "allMapIds");
  Export<MapFdById>(env, exports, "mapFdById");
  Export<PinFd>(env, exports, "pinFd");
  Export<OpenPinned>(env, exports, "openPinned");
  Export<CloseFd>(env, exports, "closeFd");
  Export<SockmapAdopt>(env, exports, "sockmapAdopt");
  Export<RingBufferPoll::Open>(env, exports, "ringBufferPoll");
  Export<EnableRunTimeStats>(env, exports, "enableRunTimeStats");
  Export<ProgramStats>(env, exports, "programStats");
  Export<MapDump>(env, exports, "mapDump");
  Export<MapReadPage>(env, exports, "mapReadPage");
  Export<MapInfoByFd>(env, exports, "mapInfoByFd");
  Export<MapInfoById>(env, exports, "mapInfoById");
  Export<BtfInfoById>(env, exports, "btfInfoById");
  Export<ProgInfoById>(env, exports, "progInfoById");
  Export<AllLinkIds>(env, exports, "allLinkIds");
  Export<LinkInfoById>(env, exports, "linkInfoById");
  Export<LinkDetachById>(env, exports, "linkDetachById");
  Export<RingBufferPositions>(env, exports, "ringBufferPositions");
  Export<SocketsByCookie>(env, exports, "socketsByCookie");
  return exports;
}

}  // namespace
}  // namespace dfs

// NODE_API_MODULE pastes the name into an identifier, so it must be unqualified.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return dfs::Init(env, exports);
}

NODE_API_MODULE(dfs_bpf, InitModule)
