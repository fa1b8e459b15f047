// Owns the explorer's queries of programs, links and BTF objects by kernel id (see
// inspect_ops.h), and the one mutation it offers, linkDetachById. Each opens its object by id for
// the call only (FdById): null when the id is gone, NativeError for every other failure.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "inspect_ops.h"
#include "kernel_ops.h"
#include "names.h"

namespace dfs {
namespace {

constexpr uint64_t kMaxBtfBytes = uint64_t{64} << 20;

std::string NameOr(const char *name, unsigned value) {
  return name != nullptr ? name : "unknown(" + std::to_string(value) + ")";
}

std::string AttachTypeName(uint32_t type) {
  return NameOr(libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(type)), type);
}

}  // namespace

Napi::Value BtfInfoById(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bool gone = false;
  const UniqueFd fd = FdById(info, bpf_btf_get_fd_by_id, "bpf_btf_get_fd_by_id", gone);
  if (!fd) return gone ? env.Null() : Napi::Value();
  // First call: the sizes. Second: the blob and the name (a kernel module's, or "vmlinux").
  bpf_btf_info btf{};
  __u32 length = sizeof btf;
  if (const int err = bpf_btf_get_info_by_fd(fd.Get(), &btf, &length); err != 0) {
    ThrowNativeError(env, "bpf_btf_get_info_by_fd", err);
    return {};
  }
  if (btf.btf_size > kMaxBtfBytes) {
    ThrowNativeError(env, "bpf_btf_get_info_by_fd", E2BIG,
                     "BTF " + std::to_string(btf.id) + " is " + std::to_string(btf.btf_size) + " bytes");
    return {};
  }
  std::vector<uint8_t> data(btf.btf_size);
  std::vector<char> name(btf.name_len + 1);
  bpf_btf_info full{};
  full.btf = reinterpret_cast<uintptr_t>(data.data());
  full.btf_size = data.size();
  full.name = reinterpret_cast<uintptr_t>(name.data());
  full.name_len = name.size();
  length = sizeof full;
  if (const int err = bpf_btf_get_info_by_fd(fd.Get(), &full, &length); err != 0) {
    ThrowNativeError(env, "bpf_btf_get_info_by_fd", err);
    return {};
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", full.id);
  out.Set("name", KernelString(name.data(), name.size()));
  out.Set("kernel", full.kernel_btf != 0);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, data.data(), std::min<size_t>(data.size(), full.btf_size)));
  return out;
}

Napi::Value ProgInfoById(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bool gone = false;
  const UniqueFd fd = FdById(info, bpf_prog_get_fd_by_id, "bpf_prog_get_fd_by_id", gone);
  if (!fd) return gone ? env.Null() : Napi::Value();
  bpf_prog_info prog;
  if (const int err = ObjectInfo(fd.Get(), prog); err != 0) {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", err);
    return {};
  }
  // The first call gave the count; the second fills the ids (a loaded program's maps are fixed).
  std::vector<__u32> mapIds(prog.nr_map_ids);
  if (!mapIds.empty()) {
    bpf_prog_info ids{};
    ids.nr_map_ids = mapIds.size();
    ids.map_ids = reinterpret_cast<uintptr_t>(mapIds.data());
    __u32 length = sizeof ids;
    if (bpf_obj_get_info_by_fd(fd.Get(), &ids, &length) != 0) {
      ThrowNativeError(env, "bpf_obj_get_info_by_fd", -errno);
      return {};
    }
    mapIds.resize(std::min<size_t>(mapIds.size(), ids.nr_map_ids));
  }
  char tag[2 * BPF_TAG_SIZE + 1];
  for (int i = 0; i < BPF_TAG_SIZE; ++i) snprintf(tag + 2 * i, 3, "%02x", prog.tag[i]);

  Napi::Object out = Napi::Object::New(env);
  out.Set("id", prog.id);
  out.Set("type", ProgTypeName(static_cast<bpf_prog_type>(prog.type)));
  out.Set("name", KernelString(prog.name, sizeof prog.name));
  out.Set("tag", tag);
  out.Set("gplCompatible", prog.gpl_compatible != 0);
  out.Set("loadTime", BigU64(env, prog.load_time));
  out.Set("createdByUid", prog.created_by_uid);
  Napi::Array ids = Napi::Array::New(env, mapIds.size());
  for (uint32_t i = 0; i < mapIds.size(); ++i) ids.Set(i, mapIds[i]);
  out.Set("mapIds", ids);
  out.Set("btfId", prog.btf_id);
  out.Set("attachBtfObjId", prog.attach_btf_obj_id);
  out.Set("attachBtfId", prog.attach_btf_id);
  out.Set("runTimeNs", static_cast<double>(prog.run_time_ns));
  out.Set("runCnt", static_cast<double>(prog.run_cnt));
  out.Set("recursionMisses", static_cast<double>(prog.recursion_misses));
  out.Set("verifiedInsns", prog.verified_insns);
  out.Set("xlatedProgLen", prog.xlated_prog_len);
  out.Set("jitedProgLen", prog.jited_prog_len);
  return out;
}

Napi::Value AllLinkIds(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  std::vector<__u32> ids;
  for (__u32 id = 0;;) {
    const int err = bpf_link_get_next_id(id, &id);
    if (err == -ENOENT) break;
    if (err != 0) {
      ThrowNativeError(env, "bpf_link_get_next_id", err);
      return {};
    }
    ids.push_back(id);
  }
  Napi::Array out = Napi::Array::New(env, ids.size());
  for (uint32_t i = 0; i < ids.size(); ++i) out.Set(i, ids[i]);
  return out;
}

namespace {

const char *PerfEventName(uint32_t type) {
  switch (type) {
    case BPF_PERF_EVENT_UPROBE: return "uprobe";
    case BPF_PERF_EVENT_URETPROBE: return "uretprobe";
    case BPF_PERF_EVENT_KPROBE: return "kprobe";
    case BPF_PERF_EVENT_KRETPROBE: return "kretprobe";
    case BPF_PERF_EVENT_TRACEPOINT: return "tracepoint";
    case BPF_PERF_EVENT_EVENT: return "event";
    default: return "unspec";
  }
}

// The link's type-specific fields; `text` is the string the second info call filled (if any).
void SetLinkFields(Napi::Env env, Napi::Object out, const bpf_link_info &link, const std::string &text) {
  switch (link.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT:
      out.Set("tpName", text);
      out.Set("cookie", BigU64(env, link.raw_tracepoint.cookie));
      break;
    case BPF_LINK_TYPE_TRACING:
      out.Set("attachType", AttachTypeName(link.tracing.attach_type));
      out.Set("targetObjId", link.tracing.target_obj_id);
      out.Set("targetBtfId", link.tracing.target_btf_id);
      out.Set("cookie", BigU64(env, link.tracing.cookie));
      break;
    case BPF_LINK_TYPE_CGROUP:
      out.Set("cgroupId", BigU64(env, link.cgroup.cgroup_id));
      out.Set("attachType", AttachTypeName(link.cgroup.attach_type));
      break;
    case BPF_LINK_TYPE_ITER:
      out.Set("targetName", text);
      break;
    case BPF_LINK_TYPE_NETNS:
      out.Set("netnsIno", link.netns.netns_ino);
      out.Set("attachType", AttachTypeName(link.netns.attach_type));
      break;
    case BPF_LINK_TYPE_XDP:
      out.Set("ifindex", link.xdp.ifindex);
      break;
    case BPF_LINK_TYPE_STRUCT_OPS:
      out.Set("mapId", link.struct_ops.map_id);
      break;
    case BPF_LINK_TYPE_NETFILTER:
      out.Set("pf", link.netfilter.pf);
      out.Set("hooknum", link.netfilter.hooknum);
      out.Set("priority", link.netfilter.priority);
      out.Set("flags", link.netfilter.flags);
      break;
    case BPF_LINK_TYPE_KPROBE_MULTI:
      out.Set("count", link.kprobe_multi.count);
      out.Set("flags", link.kprobe_multi.flags);
      out.Set("missed", BigU64(env, link.kprobe_multi.missed));
      break;
    case BPF_LINK_TYPE_UPROBE_MULTI:
      out.Set("path", text);
      out.Set("count", link.uprobe_multi.count);
      out.Set("flags", link.uprobe_multi.flags);
      out.Set("pid", link.uprobe_multi.pid);
      break;
    case BPF_LINK_TYPE_PERF_EVENT: {
      const auto &pe = link.perf_event;
      out.Set("perfEventType", PerfEventName(pe.type));
      if (pe.type == BPF_PERF_EVENT_KPROBE || pe.type == BPF_PERF_EVENT_KRETPROBE) {
        out.Set("funcName", text);
        out.Set("offset", pe.kprobe.offset);
        out.Set("addr", BigU64(env, pe.kprobe.addr));
        out.Set("missed", BigU64(env, pe.kprobe.missed));
        out.Set("cookie", BigU64(env, pe.kprobe.cookie));
      } else if (pe.type == BPF_PERF_EVENT_UPROBE || pe.type == BPF_PERF_EVENT_URETPROBE) {
        out.Set("path", text);
        out.Set("offset", pe.uprobe.offset);
        out.Set("cookie", BigU64(env, pe.uprobe.cookie));
      } else if (pe.type == BPF_PERF_EVENT_TRACEPOINT) {
        out.Set("tpName", text);
        out.Set("cookie", BigU64(env, pe.tracepoint.cookie));
      } else if (pe.type == BPF_PERF_EVENT_EVENT) {
        out.Set("config", BigU64(env, pe.event.config));
        out.Set("eventType", pe.event.type);
        out.Set("cookie", BigU64(env, pe.event.cookie));
      }
      break;
    }
    case BPF_LINK_TYPE_TCX:
      out.Set("ifindex", link.tcx.ifindex);
      out.Set("attachType", AttachTypeName(link.tcx.attach_type));
      break;
    case BPF_LINK_TYPE_NETKIT:
      out.Set("ifindex", link.netkit.ifindex);
      out.Set("attachType", AttachTypeName(link.netkit.attach_type));
      break;
    case BPF_LINK_TYPE_SOCKMAP:
      out.Set("mapId", link.sockmap.map_id);
      out.Set("attachType", AttachTypeName(link.sockmap.attach_type));
      break;
    default:
      break;
  }
}

// Where the info call writes the link's string for this type, or nullptr when it has none.
// Every pointer/length pair of these members sits at the start of its struct.
std::pair<__u64 *, __u32 *> TextField(bpf_link_info &link) {
  switch (link.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT: return {&link.raw_tracepoint.tp_name, &link.raw_tracepoint.tp_name_len};
    case BPF_LINK_TYPE_ITER: return {&link.iter.target_name, &link.iter.target_name_len};
    case BPF_LINK_TYPE_UPROBE_MULTI: return {&link.uprobe_multi.path, &link.uprobe_multi.path_size};
    case BPF_LINK_TYPE_PERF_EVENT:
      if (link.perf_event.type == BPF_PERF_EVENT_EVENT) break;
      return {&link.perf_event.kprobe.func_name, &link.perf_event.kprobe.name_len};
    default: break;
  }
  return {nullptr, nullptr};
}

}  // namespace

Napi::Value LinkInfoById(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bool gone = false;
  const UniqueFd fd = FdById(info, bpf_link_get_fd_by_id, "bpf_link_get_fd_by_id", gone);
  if (!fd) return gone ? env.Null() : Napi::Value();
  bpf_link_info link;
  if (const int err = ObjectInfo(fd.Get(), link); err != 0) {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", err);
    return {};
  }
  // A second call with a buffer for the type's string (path, function or tracepoint name).
  std::string text;
  const auto [pointer, length] = TextField(link);
  if (pointer != nullptr) {
    std::vector<char> buffer(4096);  // PATH_MAX: the longest of them, a uprobe's path
    // type and perf_event.type only select TextField's member again; the kernel overwrites both.
    bpf_link_info query{};
    query.type = link.type;
    if (link.type == BPF_LINK_TYPE_PERF_EVENT) query.perf_event.type = link.perf_event.type;
    const auto [p, n] = TextField(query);
    *p = reinterpret_cast<uintptr_t>(buffer.data());
    *n = buffer.size();
    __u32 size = sizeof query;
    if (bpf_obj_get_info_by_fd(fd.Get(), &query, &size) != 0) {
      ThrowNativeError(env, "bpf_obj_get_info_by_fd", -errno);
      return {};
    }
    link = query;
    text = KernelString(buffer.data(), buffer.size());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", link.id);
  out.Set("type", NameOr(libbpf_bpf_link_type_str(static_cast<bpf_link_type>(link.type)), link.type));
  out.Set("progId", link.prog_id);
  SetLinkFields(env, out, link, text);
  return out;
}

Napi::Value LinkDetachById(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bool gone = false;
  const UniqueFd fd = FdById(info, bpf_link_get_fd_by_id, "bpf_link_get_fd_by_id", gone);
  if (!fd) return gone ? Napi::Boolean::New(env, false) : Napi::Value();
  if (const int err = bpf_link_detach(fd.Get()); err != 0) {
    ThrowNativeError(env, "bpf_link_detach", err);
    return {};
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace dfs
