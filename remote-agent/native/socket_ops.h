// Adoption of live TCP sockets into a sockmap/sockhash (see socket_ops.cc).
#pragma once

#include <napi.h>

namespace dfs {

// sockmapAdopt(mapFd, pid, fd, key) → "added" | "exists" | "busy"
Napi::Value SockmapAdopt(const Napi::CallbackInfo &info);

}  // namespace dfs
