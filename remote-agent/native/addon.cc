// Module entry point: registers the JS API declared in remote-agent/src/native.ts
// and owns the small module-level functions (libbpf version, CPU count). The feature, helper
// and kfunc probes live in probe_ops.cc;
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
#include "probe_ops.h"
#include "profile_ops.h"
#include "socket_ops.h"

namespace dfs {
namespace {

Napi::Value LibbpfVersion(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
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
  Export<ProbeKfuncs>(env, exports, "probeKfuncs");
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
