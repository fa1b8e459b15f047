// What the kernel accepts, asked by loading tiny programs that are never attached: program and
// map types, the helpers each program type may call (libbpf's probes) and the kfuncs each may
// call (our own probe: libbpf has none). The editing help (remote-agent/src/editing.ts) and the
// node's feature list (kernel.ts) read these.
#pragma once

#include <napi.h>

namespace dfs {

Napi::Value ProbeProgType(const Napi::CallbackInfo &info);
Napi::Value ProbeMapType(const Napi::CallbackInfo &info);
Napi::Value ProbeHelpers(const Napi::CallbackInfo &info);
Napi::Value ProbeKfuncs(const Napi::CallbackInfo &info);

}  // namespace dfs
