// Fd- and id-level kernel operations exposed to JS (map element ops, map info,
// cgroup program queries, program names by id), plus the info helpers that the
// object and link code share. None of these touch a bpf_object.
#pragma once

#include <bpf/bpf.h>
#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <optional>

namespace dfs {

// bpf_obj_get_info_by_fd into a zeroed Info (bpf_prog_info, bpf_map_info,
// bpf_link_info). Returns 0 or a negative errno.
template <typename Info>
int ObjectInfo(int fd, Info &info) {
  info = Info{};
  __u32 length = sizeof info;
  return bpf_obj_get_info_by_fd(fd, &info, &length) == 0 ? 0 : -errno;
}

// Info of the map behind `fd`, or nullopt after throwing (bad fd, not a map).
std::optional<bpf_map_info> QueryMap(Napi::Env env, int fd);

// Bytes the kernel copies per value in the BPF_MAP_*_ELEM syscalls; mirrors
// bpf_map_value_size() in kernel/bpf/syscall.c. Returns 0 after throwing.
uint64_t SyscallValueSize(Napi::Env env, const bpf_map_info &map);

// Kernel link id behind an attachment fd: the id of a BPF link, 0 for a
// non-BPF fd (a legacy perf-event attachment has no link id), else a negative errno.
int64_t LinkIdOfFd(int fd);

Napi::Value MapLookup(const Napi::CallbackInfo &info);
Napi::Value MapUpdate(const Napi::CallbackInfo &info);
Napi::Value MapDelete(const Napi::CallbackInfo &info);
Napi::Value MapNextKey(const Napi::CallbackInfo &info);
Napi::Value MapInfo(const Napi::CallbackInfo &info);
Napi::Value CgroupProgIds(const Napi::CallbackInfo &info);
Napi::Value ProgNameById(const Napi::CallbackInfo &info);
Napi::Value ProgMapIds(const Napi::CallbackInfo &info);
Napi::Value AllProgIds(const Napi::CallbackInfo &info);
Napi::Value AllMapIds(const Napi::CallbackInfo &info);
Napi::Value MapFdById(const Napi::CallbackInfo &info);
Napi::Value PinFd(const Napi::CallbackInfo &info);
Napi::Value OpenPinned(const Napi::CallbackInfo &info);
Napi::Value CloseFd(const Napi::CallbackInfo &info);

}  // namespace dfs
