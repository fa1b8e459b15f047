// Owns socketsByCookie (see inspect_ops.h): the TCP sockets behind socket cookies (what a
// sockhash or sockmap lookup from user space answers), found by a NETLINK_SOCK_DIAG dump of the
// caller's network namespace. Only a netlink socket is created, never a listener; the dump is
// read until NLMSG_DONE or until every cookie is found, and stops past 1,000,000 sockets.
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "errors.h"
#include "inspect_ops.h"

namespace dfs {
namespace {

constexpr int64_t kMaxCookies = 1 << 20;
constexpr uint64_t kMaxDiagMessages = 1000000;

const char *TcpStateName(uint8_t state) {
  static const char *const names[] = {"unknown",   "established", "syn_sent",  "syn_recv",
                                      "fin_wait1", "fin_wait2",   "time_wait", "close",
                                      "close_wait", "last_ack",   "listen",    "closing",
                                      "new_syn_recv", "bound_inactive"};
  return state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}

// One SOCK_DIAG_BY_FAMILY dump of TCP sockets of `family` (every state), calling `onSocket`
// for each until it returns false. Returns false after throwing.
template <typename OnSocket>
bool DumpTcp(Napi::Env env, int family, uint64_t &messages, OnSocket onSocket) {
  const UniqueFd sock(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!sock) {
    ThrowNativeError(env, "socket", errno, "NETLINK_SOCK_DIAG");
    return false;
  }
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = 1;
  message.request.sdiag_family = family;
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0u;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(sock.Get(), &message, sizeof message, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel) < 0) {
    ThrowNativeError(env, "sendto", errno, "SOCK_DIAG_BY_FAMILY");
    return false;
  }
  std::vector<uint8_t> buffer(1 << 16);  // more than the kernel puts in one dump datagram
  for (;;) {
    iovec iov{buffer.data(), buffer.size()};
    msghdr header{};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    const ssize_t n = recvmsg(sock.Get(), &header, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ThrowNativeError(env, "recvmsg", errno, "SOCK_DIAG_BY_FAMILY");
      return false;
    }
    if (n == 0 || (header.msg_flags & MSG_TRUNC) != 0) {
      ThrowNativeError(env, "recvmsg", EMSGSIZE, "SOCK_DIAG_BY_FAMILY reply truncated");
      return false;
    }
    int left = static_cast<int>(n);
    for (auto *nlh = reinterpret_cast<nlmsghdr *>(buffer.data()); NLMSG_OK(nlh, left); nlh = NLMSG_NEXT(nlh, left)) {
      if (nlh->nlmsg_seq != 1) continue;
      if (nlh->nlmsg_type == NLMSG_DONE) return true;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto *err = static_cast<const nlmsgerr *>(NLMSG_DATA(nlh));
        const int code = nlh->nlmsg_len >= NLMSG_LENGTH(sizeof *err) ? -err->error : EPROTO;
        // No inet6_diag in this kernel: there are no IPv6 sockets to find.
        if (family == AF_INET6 && code == ENOENT) return true;
        ThrowNativeError(env, "SOCK_DIAG_BY_FAMILY", code, family == AF_INET ? "AF_INET" : "AF_INET6");
        return false;
      }
      if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      if (++messages > kMaxDiagMessages) {
        ThrowNativeError(env, "SOCK_DIAG_BY_FAMILY", E2BIG,
                         "more than " + std::to_string(kMaxDiagMessages) + " TCP sockets; stopped");
        return false;
      }
      if (!onSocket(*static_cast<const inet_diag_msg *>(NLMSG_DATA(nlh)))) return true;
    }
  }
}

}  // namespace

Napi::Value SocketsByCookie(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    ThrowTypeError(env, "cookies must be an array of bigint");
    return {};
  }
  const auto cookies = info[0].As<Napi::Array>();
  if (cookies.Length() > kMaxCookies) {
    ThrowRangeError(env, "at most " + std::to_string(kMaxCookies) + " cookies");
    return {};
  }
  std::unordered_set<uint64_t> wanted;
  for (uint32_t i = 0; i < cookies.Length(); ++i) {
    const Napi::Value value = cookies.Get(i);
    if (env.IsExceptionPending()) return {};
    bool lossless = false;
    const uint64_t cookie = value.IsBigInt() ? value.As<Napi::BigInt>().Uint64Value(&lossless) : 0;
    if (!lossless) {
      ThrowTypeError(env, "cookies[" + std::to_string(i) + "] must be a bigint in [0, 2^64)");
      return {};
    }
    wanted.insert(cookie);
  }

  Napi::Array out = Napi::Array::New(env);
  if (wanted.empty()) return out;
  size_t found = 0;
  uint64_t messages = 0;
  for (const int family : {AF_INET, AF_INET6}) {
    const bool ok = DumpTcp(env, family, messages, [&](const inet_diag_msg &sock) {
      const uint64_t cookie = uint64_t{sock.id.idiag_cookie[0]} | uint64_t{sock.id.idiag_cookie[1]} << 32;
      if (sock.idiag_family != family || wanted.count(cookie) == 0) return true;
      char src[INET6_ADDRSTRLEN] = "";
      char dst[INET6_ADDRSTRLEN] = "";
      inet_ntop(family, sock.id.idiag_src, src, sizeof src);
      inet_ntop(family, sock.id.idiag_dst, dst, sizeof dst);
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("cookie", BigU64(env, cookie));
      entry.Set("family", family == AF_INET ? "inet" : "inet6");
      entry.Set("state", TcpStateName(sock.idiag_state));
      entry.Set("src", src);
      entry.Set("sport", ntohs(sock.id.idiag_sport));
      entry.Set("dst", dst);
      entry.Set("dport", ntohs(sock.id.idiag_dport));
      entry.Set("inode", sock.idiag_inode);
      entry.Set("uid", sock.idiag_uid);
      out.Set(static_cast<uint32_t>(found), entry);
      return ++found < wanted.size();  // all found: stop reading (closing ends the dump)
    });
    if (!ok) return {};
    if (found == wanted.size()) break;
  }
  return out;
}

}  // namespace dfs
