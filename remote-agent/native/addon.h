// Per-environment state of the addon (one per Node main thread or worker):
// the JS classes it creates instances of. Set in addon.cc's Init.
#pragma once

#include <napi.h>

namespace dfs {

struct AddonData {
  Napi::FunctionReference objectClass;  // BpfObject
  Napi::FunctionReference linkClass;    // BpfLink
  Napi::FunctionReference ringBufferClass;  // RingBufferPoll
};

}  // namespace dfs
