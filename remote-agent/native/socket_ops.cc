// Owns adoption of live TCP sockets into a sockmap/sockhash: the bypass's sock_ops program
// only sees connections established after it is attached, so the agent hands over existing
// ones itself. The socket is borrowed from its owning process with pidfd_getfd (root), added
// with BPF_NOEXIST, and our duplicate is closed at once; no fd ever reaches JS. A socket with
// bytes queued in either direction is left alone ("busy"): adding it could reorder that data
// with data redirected later.
#include "socket_ops.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <string>

#include "errors.h"
#include "kernel_ops.h"
#include "unique_fd.h"

namespace dfs {

Napi::Value SockmapAdopt(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto mapFd = FdArg(env, info[0]);
  if (!mapFd) return {};
  const auto pid = IntegerArg(env, info[1], "pid", 1, std::numeric_limits<int32_t>::max());
  if (!pid) return {};
  const auto fd = IntegerArg(env, info[2], "fd", 0, std::numeric_limits<int32_t>::max());
  if (!fd) return {};
  const auto key = BufferArg(env, info[3], "key");
  if (!key) return {};

  bpf_map_info map;
  if (const int err = ObjectInfo(*mapFd, map); err != 0) {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", err);
    return {};
  }
  if (map.type != BPF_MAP_TYPE_SOCKHASH && map.type != BPF_MAP_TYPE_SOCKMAP) {
    ThrowTypeError(env, "sockmapAdopt needs a sockmap or sockhash fd");
    return {};
  }
  if (key->Length() != map.key_size) {
    ThrowRangeError(env, "key is " + std::to_string(key->Length()) + " bytes, the map's keys are " +
                             std::to_string(map.key_size));
    return {};
  }

  const UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(*pid), 0)));
  if (!pidfd) {
    ThrowNativeError(env, "pidfd_open", errno, "pid " + std::to_string(*pid));
    return {};
  }
  const UniqueFd sock(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.Get(), static_cast<int>(*fd), 0)));
  if (!sock) {
    ThrowNativeError(env, "pidfd_getfd", errno, "pid " + std::to_string(*pid) + " fd " + std::to_string(*fd));
    return {};
  }
  int protocol = 0;
  socklen_t len = sizeof protocol;
  if (getsockopt(sock.Get(), SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 || protocol != IPPROTO_TCP) {
    ThrowNativeError(env, "getsockopt", errno != 0 ? errno : ENOTSOCK, "fd is not a TCP socket");
    return {};
  }
  int inq = 0;
  int outq = 0;
  if (ioctl(sock.Get(), SIOCINQ, &inq) != 0 || ioctl(sock.Get(), SIOCOUTQ, &outq) != 0) {
    ThrowNativeError(env, "ioctl", errno, "SIOCINQ/SIOCOUTQ");
    return {};
  }
  if (inq > 0 || outq > 0) return Napi::String::New(env, "busy");

  // The kernel reads the fd as a u32 or a u64, whichever the map's value size is; a wider or
  // narrower value than the map's would be read out of bounds or refused.
  const __u32 fd32 = static_cast<__u32>(sock.Get());
  const __u64 fd64 = fd32;
  const void *value = map.value_size == sizeof fd64 ? static_cast<const void *>(&fd64) : &fd32;
  if (map.value_size != sizeof fd32 && map.value_size != sizeof fd64) {
    ThrowRangeError(env, "the map's values are " + std::to_string(map.value_size) + " bytes; a socket map takes 4 or 8");
    return {};
  }
  const int err = bpf_map_update_elem(*mapFd, key->Data(), value, BPF_NOEXIST);
  if (err == -EEXIST) return Napi::String::New(env, "exists");
  if (err != 0) {
    ThrowNativeError(env, "bpf_map_update_elem", err, "adopting pid " + std::to_string(*pid) + " fd " + std::to_string(*fd));
    return {};
  }
  return Napi::String::New(env, "added");
}

}  // namespace dfs
