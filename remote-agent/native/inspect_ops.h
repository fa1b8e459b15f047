// What the node explorer and the live map inspector read from the kernel: a map one bounded page
// at a time, map/program/link/BTF details by id, a link detached by id, a ring buffer's
// positions, and the TCP sockets behind socket cookies (sock_diag). Three files implement it:
// inspect_ops.cc (maps, ring buffer), inspect_ids.cc (programs, links, BTF), inspect_sockets.cc.
//
// Bounds: a map page holds at most 65,536 entries and 64 MiB; a BTF blob at most 64 MiB; a socket
// dump stops after 1,000,000 netlink messages. Memory follows the page, never the map's size.
#pragma once

#include <linux/types.h>
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "unique_fd.h"

namespace dfs {

// mapReadPage(mapFd, cursor | null, maxEntries) → {keys, values, count, cursor | null, batched}
Napi::Value MapReadPage(const Napi::CallbackInfo &info);
// mapInfoByFd(mapFd) → MapDetails; mapInfoById(id) → MapDetails | null (gone)
Napi::Value MapInfoByFd(const Napi::CallbackInfo &info);
Napi::Value MapInfoById(const Napi::CallbackInfo &info);
// ringBufferPositions(mapFd) → {size, consumer, producer}
Napi::Value RingBufferPositions(const Napi::CallbackInfo &info);

// btfInfoById(id) → {id, name, kernel, data} | null
Napi::Value BtfInfoById(const Napi::CallbackInfo &info);
// progInfoById(id) → ProgDetails | null
Napi::Value ProgInfoById(const Napi::CallbackInfo &info);
// allLinkIds() → number[]; linkInfoById(id) → LinkDetails | null; linkDetachById(id) → boolean
Napi::Value AllLinkIds(const Napi::CallbackInfo &info);
Napi::Value LinkInfoById(const Napi::CallbackInfo &info);
Napi::Value LinkDetachById(const Napi::CallbackInfo &info);

// socketsByCookie(cookies: bigint[]) → [{cookie, family, state, src, sport, dst, dport, inode, uid}]
Napi::Value SocketsByCookie(const Napi::CallbackInfo &info);

// ---- shared by the inspect_*.cc files ----

// An fd for the object whose id is info[0], from `getFd` (bpf_*_get_fd_by_id): empty with `gone`
// set when the id no longer exists (ENOENT), empty after throwing, else owned by the caller.
UniqueFd FdById(const Napi::CallbackInfo &info, int (*getFd)(__u32), const char *op, bool &gone);

// A fixed-size, maybe unterminated kernel string field (a map or program name) as a string.
inline std::string KernelString(const char *field, size_t size) {
  return std::string(field, strnlen(field, size));
}

// A u64 as a JS bigint: counters and addresses that a double could round.
inline Napi::Value BigU64(Napi::Env env, uint64_t value) { return Napi::BigInt::New(env, value); }

}  // namespace dfs
