// Owns the JS functions that work on raw map fds, cgroup paths and program
// ids. Every key and value buffer is checked against the map's real sizes (as
// the kernel reports them) before a syscall, so a wrong size from JS can never
// make the kernel read or write past a buffer.
#include "kernel_ops.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors.h"
#include "names.h"
#include "unique_fd.h"

namespace dfs {
namespace {

constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

}  // namespace

std::optional<bpf_map_info> QueryMap(Napi::Env env, int fd) {
  bpf_map_info info;
  if (const int err = ObjectInfo(fd, info); err != 0) {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", err, "fd " + std::to_string(fd));
    return std::nullopt;
  }
  // The info call also succeeds on program, link and BTF fds (and fills in a
  // different struct), so check what the fd is.
  const std::string procPath = "/proc/self/fd/" + std::to_string(fd);
  char target[64];
  const ssize_t n = readlink(procPath.c_str(), target, sizeof target - 1);
  if (n < 0) {
    ThrowNativeError(env, "readlink", errno, procPath);
    return std::nullopt;
  }
  if (std::string_view(target, n) != "anon_inode:bpf-map") {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", EINVAL,
                     "fd " + std::to_string(fd) + " is not a BPF map");
    return std::nullopt;
  }
  return info;
}

uint64_t SyscallValueSize(Napi::Env env, const bpf_map_info &map) {
  switch (map.type) {
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: {
      const int cpus = libbpf_num_possible_cpus();
      if (cpus < 0) {
        ThrowNativeError(env, "libbpf_num_possible_cpus", cpus);
        return 0;
      }
      return ((uint64_t{map.value_size} + 7) / 8 * 8) * static_cast<uint64_t>(cpus);
    }
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE_CGROUP_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
      return sizeof(uint32_t);  // fd in, id out
    default:
      return map.value_size;
  }
}

namespace {

std::string Describe(const bpf_map_info &map) {
  return "map '" + std::string(map.name) + "' (" +
         MapTypeName(static_cast<bpf_map_type>(map.type)) + ")";
}

bool CheckKey(Napi::Env env, const bpf_map_info &map, size_t keyLength) {
  if (keyLength == map.key_size) return true;
  ThrowRangeError(env, "key is " + std::to_string(keyLength) + " bytes but " + Describe(map) +
                           " has " + std::to_string(map.key_size) + "-byte keys");
  return false;
}

bool CheckValue(Napi::Env env, const bpf_map_info &map, uint64_t valueLength, const char *what) {
  const uint64_t expected = SyscallValueSize(env, map);
  if (env.IsExceptionPending()) return false;
  if (valueLength == expected) return true;
  ThrowRangeError(env, std::string(what) + " is " + std::to_string(valueLength) + " bytes but " +
                           Describe(map) + " takes " + std::to_string(expected) +
                           " (per-CPU maps: CPUs * value size rounded up to 8)");
  return false;
}

// Maps without keys (queue, stack, ...) take a NULL key pointer; the kernel
// rejects a non-NULL one.
const void *KeyPointer(const Napi::Buffer<uint8_t> &key) {
  return key.Length() == 0 ? nullptr : key.Data();
}

}  // namespace

int64_t LinkIdOfFd(int fd) {
  bpf_link_info info;
  const int err = ObjectInfo(fd, info);
  if (err == -EINVAL) return 0;
  return err != 0 ? err : info.id;
}

Napi::Value MapLookup(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto key = BufferArg(env, info[1], "key");
  if (!key) return {};
  const auto valueSize = IntegerArg(env, info[2], "valueSize", 0, kMaxU32);
  if (!valueSize) return {};
  const auto map = QueryMap(env, *fd);
  if (!map || !CheckKey(env, *map, key->Length()) ||
      !CheckValue(env, *map, *valueSize, "valueSize")) {
    return {};
  }

  Napi::Buffer<uint8_t> value = Napi::Buffer<uint8_t>::New(env, *valueSize);
  if (const int err = bpf_map_lookup_elem(*fd, KeyPointer(*key), value.Data()); err != 0) {
    if (err == -ENOENT) return env.Null();
    ThrowNativeError(env, "bpf_map_lookup_elem", err);
    return {};
  }
  return value;
}

Napi::Value MapUpdate(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto key = BufferArg(env, info[1], "key");
  if (!key) return {};
  const auto value = BufferArg(env, info[2], "value");
  if (!value) return {};
  // Only the flags whose value layout is the plain one checked below; newer
  // flags (e.g. per-CPU selection) change how many bytes the kernel reads.
  const auto flags = IntegerArg(env, info[3], "flags", 0, BPF_NOEXIST | BPF_EXIST | BPF_F_LOCK);
  if (!flags) return {};
  const auto map = QueryMap(env, *fd);
  if (!map || !CheckKey(env, *map, key->Length()) ||
      !CheckValue(env, *map, value->Length(), "value")) {
    return {};
  }

  if (const int err = bpf_map_update_elem(*fd, KeyPointer(*key), value->Data(), *flags); err != 0) {
    ThrowNativeError(env, "bpf_map_update_elem", err);
  }
  return {};
}

Napi::Value MapDelete(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto key = BufferArg(env, info[1], "key");
  if (!key) return {};
  const auto map = QueryMap(env, *fd);
  if (!map || !CheckKey(env, *map, key->Length())) return {};

  if (const int err = bpf_map_delete_elem(*fd, KeyPointer(*key)); err != 0) {
    if (err == -ENOENT) return Napi::Boolean::New(env, false);
    ThrowNativeError(env, "bpf_map_delete_elem", err);
    return {};
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value MapNextKey(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  std::optional<Napi::Buffer<uint8_t>> key;
  if (!info[1].IsNull()) {
    key = BufferArg(env, info[1], "key (or null for the first key)");
    if (!key) return {};
  }
  const auto keySize = IntegerArg(env, info[2], "keySize", 0, kMaxU32);
  if (!keySize) return {};
  const auto map = QueryMap(env, *fd);
  if (!map || !CheckKey(env, *map, *keySize) || (key && !CheckKey(env, *map, key->Length()))) {
    return {};
  }

  Napi::Buffer<uint8_t> next = Napi::Buffer<uint8_t>::New(env, *keySize);
  const void *current = key ? KeyPointer(*key) : nullptr;
  if (const int err = bpf_map_get_next_key(*fd, current, next.Data()); err != 0) {
    if (err == -ENOENT) return env.Null();
    ThrowNativeError(env, "bpf_map_get_next_key", err);
    return {};
  }
  return next;
}

Napi::Value MapInfo(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto map = QueryMap(env, *fd);
  if (!map) return {};

  Napi::Object result = Napi::Object::New(env);
  result.Set("id", Napi::Number::New(env, map->id));
  result.Set("name", Napi::String::New(env, map->name));
  result.Set("type", Napi::Number::New(env, map->type));
  result.Set("keySize", Napi::Number::New(env, map->key_size));
  result.Set("valueSize", Napi::Number::New(env, map->value_size));
  result.Set("maxEntries", Napi::Number::New(env, map->max_entries));
  return result;
}

namespace {

// An id array as a JS array of numbers.
Napi::Array IdArray(Napi::Env env, const std::vector<__u32> &ids) {
  Napi::Array result = Napi::Array::New(env, ids.size());
  for (uint32_t i = 0; i < ids.size(); ++i) result.Set(i, Napi::Number::New(env, ids[i]));
  return result;
}

// The program with the id in info[0]: its fd and info. nullopt either after throwing, or
// with `gone` set when the program no longer exists (not an error: it may have just ended).
std::optional<std::pair<UniqueFd, bpf_prog_info>> ProgById(const Napi::CallbackInfo &info, bool &gone) {
  const Napi::Env env = info.Env();
  gone = false;
  const auto id = IntegerArg(env, info[0], "id", 0, kMaxU32);
  if (!id) return std::nullopt;
  const int fd = bpf_prog_get_fd_by_id(*id);
  if (fd < 0) {
    if (fd == -ENOENT) gone = true;
    else ThrowNativeError(env, "bpf_prog_get_fd_by_id", fd, "id " + std::to_string(*id));
    return std::nullopt;
  }
  UniqueFd prog(fd);
  bpf_prog_info progInfo;
  if (const int err = ObjectInfo(prog.Get(), progInfo); err != 0) {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", err);
    return std::nullopt;
  }
  return std::make_pair(std::move(prog), progInfo);
}

}  // namespace

Napi::Value CgroupProgIds(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto path = StringArg(env, info[0], "cgroupPath");
  if (!path) return {};
  const auto typeName = StringArg(env, info[1], "attachType");
  if (!typeName) return {};
  const auto type = AttachTypeByName(*typeName);
  if (!type) {
    ThrowRangeError(env, "unknown attach type '" + *typeName + "'");
    return {};
  }
  const UniqueFd cgroup(open(path->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) {
    ThrowNativeError(env, "open", errno, *path);
    return {};
  }

  // The kernel reports the real count when the array is too small (ENOSPC);
  // grow and retry, since programs may be attached between the calls.
  std::vector<__u32> ids(64);
  for (;;) {
    __u32 count = ids.size();
    const int err = bpf_prog_query(cgroup.Get(), *type, 0, nullptr, ids.data(), &count);
    if (err == 0) {
      ids.resize(count);
      break;
    }
    if (err != -ENOSPC || count <= ids.size()) {
      ThrowNativeError(env, "bpf_prog_query", err, *path);
      return {};
    }
    ids.resize(count);
  }

  return IdArray(env, ids);
}


Napi::Value ProgNameById(const Napi::CallbackInfo &info) {
  bool gone = false;
  const auto prog = ProgById(info, gone);
  if (!prog) return gone ? info.Env().Null() : Napi::Value();
  return Napi::String::New(info.Env(), prog->second.name);
}

Napi::Value ProgMapIds(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bool gone = false;
  const auto prog = ProgById(info, gone);
  if (!prog) return gone ? env.Null() : Napi::Value();
  // The first info call gave the count; the second fills the ids (a loaded program's maps are fixed).
  std::vector<__u32> ids(prog->second.nr_map_ids);
  if (!ids.empty()) {
    bpf_prog_info progInfo{};
    progInfo.nr_map_ids = ids.size();
    progInfo.map_ids = reinterpret_cast<uintptr_t>(ids.data());
    __u32 length = sizeof progInfo;
    if (bpf_obj_get_info_by_fd(prog->first.Get(), &progInfo, &length) != 0) {
      ThrowNativeError(env, "bpf_obj_get_info_by_fd", -errno);
      return {};
    }
    ids.resize(std::min<size_t>(ids.size(), progInfo.nr_map_ids));
  }
  return IdArray(env, ids);
}

namespace {

// Every id of one kind of kernel object, walked with its bpf_*_get_next_id (no reference taken).
Napi::Value AllIds(Napi::Env env, int (*next)(__u32, __u32 *), const char *op) {
  std::vector<__u32> ids;
  for (__u32 id = 0;;) {
    const int err = next(id, &id);
    if (err == -ENOENT) break;
    if (err != 0) {
      ThrowNativeError(env, op, err);
      return {};
    }
    ids.push_back(id);
  }
  return IdArray(env, ids);
}

}  // namespace

Napi::Value AllProgIds(const Napi::CallbackInfo &info) {
  return AllIds(info.Env(), bpf_prog_get_next_id, "bpf_prog_get_next_id");
}

// Map ids by BPF_MAP_GET_NEXT_ID: takes no reference and opens nothing. Unlike opening a map
// by id, it cannot disturb a program array whose owner just died (see remote-agent/src/sweep.ts).
Napi::Value AllMapIds(const Napi::CallbackInfo &info) {
  return AllIds(info.Env(), bpf_map_get_next_id, "bpf_map_get_next_id");
}

Napi::Value MapFdById(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto id = IntegerArg(env, info[0], "id", 0, kMaxU32);
  if (!id) return {};
  const int fd = bpf_map_get_fd_by_id(*id);
  if (fd < 0) {
    ThrowNativeError(env, "bpf_map_get_fd_by_id", fd, "id " + std::to_string(*id));
    return {};
  }
  return Napi::Number::New(env, fd);
}

Napi::Value PinFd(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto path = StringArg(env, info[1], "path");
  if (!path) return {};
  if (bpf_obj_pin(*fd, path->c_str()) != 0) {
    ThrowNativeError(env, "bpf_obj_pin", -errno, *path);
    return {};
  }
  return env.Undefined();
}

Napi::Value OpenPinned(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto path = StringArg(env, info[0], "path");
  if (!path) return {};
  const int fd = bpf_obj_get(path->c_str());
  if (fd < 0) {
    ThrowNativeError(env, "bpf_obj_get", -errno, *path);
    return {};
  }
  return Napi::Number::New(env, fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  // Only BPF objects: never let a caller close the agent's own stdio or sockets.
  const std::string procPath = "/proc/self/fd/" + std::to_string(*fd);
  char target[64];
  const ssize_t n = readlink(procPath.c_str(), target, sizeof target - 1);
  if (n < 0 || std::string_view(target, n).rfind("anon_inode:bpf", 0) != 0) {
    ThrowNativeError(env, "close", EBADF, "fd " + std::to_string(*fd) + " is not a BPF object");
    return {};
  }
  close(*fd);
  return env.Undefined();
}

}  // namespace dfs
