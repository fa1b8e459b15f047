// Owns the map side of inspection (see inspect_ops.h): bounded pages of a map's entries, a map's
// details by fd or id, a ring buffer's positions, and FdById, which every by-id query shares.
//
// Invariants:
// - A map page is read into buffers sized from the map's real key and value sizes (per-CPU
//   values: SyscallValueSize), so the kernel never writes past them; the page, not the map,
//   bounds memory and syscalls.
// - Objects opened by id are held in a UniqueFd for the call only. An id that no longer exists
//   (ENOENT) answers null; every other failure throws NativeError.
// - Opening a map by id takes and drops a user reference. ARCHITECTURE.md explains why a bypass
//   stub's program array must never be opened so: mapInfoById inherits that rule from its callers.
#include "inspect_ops.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "errors.h"
#include "kernel_ops.h"
#include "names.h"

namespace dfs {

UniqueFd FdById(const Napi::CallbackInfo &info, int (*getFd)(__u32), const char *op, bool &gone) {
  const Napi::Env env = info.Env();
  gone = false;
  const auto id = IntegerArg(env, info[0], "id", 0, std::numeric_limits<uint32_t>::max());
  if (!id) return UniqueFd();
  const int fd = getFd(static_cast<__u32>(*id));
  if (fd == -ENOENT) gone = true;
  else if (fd < 0) ThrowNativeError(env, op, fd, "id " + std::to_string(*id));
  return UniqueFd(fd < 0 ? -1 : fd);
}

namespace {

constexpr int64_t kMaxPageEntries = 65536;
constexpr uint64_t kMaxPageBytes = uint64_t{64} << 20;
// The kernel's ENOTSUPP (not in userspace errno.h): the map kind has no batch ops.
constexpr int kKernelENOTSUPP = 524;
// A cursor's first byte says what follows: the kernel's batch token, or the last key visited.
constexpr uint8_t kBatchCursor = 'B';
constexpr uint8_t kKeyCursor = 'K';

struct Page {
  std::vector<uint8_t> keys;
  std::vector<uint8_t> values;
  uint32_t count = 0;
  std::vector<uint8_t> cursor;  // empty: the map has no more entries
};

// Kinds whose entries user space cannot list: a clear sentence instead of a bare errno.
const char *Unreadable(const bpf_map_info &map) {
  if (map.key_size == 0) return "has no keys (ring buffer, queue, stack, bloom filter or arena)";
  switch (map.type) {
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE_CGROUP_ARRAY:
      return "holds fds whose values user space cannot read";
    case BPF_MAP_TYPE_SK_STORAGE:
    case BPF_MAP_TYPE_INODE_STORAGE:
    case BPF_MAP_TYPE_TASK_STORAGE:
    case BPF_MAP_TYPE_CGRP_STORAGE:
      return "is keyed by fds and cannot be iterated";
    case BPF_MAP_TYPE_SOCKMAP:
    case BPF_MAP_TYPE_SOCKHASH:
      // The kernel answers a lookup with the socket cookie only into an 8-byte value.
      return map.value_size == 8 ? nullptr : "has values narrower than the 8-byte socket cookie";
    default:
      return nullptr;
  }
}

// BPF_MAP_LOOKUP_BATCH from `token` (nullptr: the start). Returns 1 with the page filled, 0 when
// the map kind has no batch lookup (only reported for a first page), -1 after throwing. A hash
// bucket is never split, so when the next bucket alone does not fit (ENOSPC) the request grows,
// one entry at a time (then doubling, up to `cap`) so that the page is that one bucket: the one
// case where a page holds more than `limit` entries.
int ReadBatchPage(Napi::Env env, int fd, const uint8_t *token, size_t tokenSize, size_t keySize,
                  size_t valueSize, uint32_t limit, uint32_t cap, Page &page) {
  std::vector<uint8_t> in(tokenSize), out(tokenSize);
  if (token != nullptr) std::copy(token, token + tokenSize, in.begin());
  for (uint32_t want = limit;;) {
    page.keys.assign(size_t{want} * keySize, 0);
    page.values.assign(size_t{want} * valueSize, 0);
    uint32_t got = want;
    bpf_map_batch_opts opts{};
    opts.sz = sizeof opts;
    const int err = bpf_map_lookup_batch(fd, token != nullptr ? in.data() : nullptr, out.data(),
                                         page.keys.data(), page.values.data(), &got, &opts);
    if (err == 0 || err == -ENOENT) {  // ENOENT: these were the last entries
      page.count = std::min(got, want);
      if (err == 0) {
        page.cursor.assign(1, kBatchCursor);
        page.cursor.insert(page.cursor.end(), out.begin(), out.end());
      }
      return 1;
    }
    if (token == nullptr &&
        (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP || err == -kKernelENOTSUPP)) {
      return 0;
    }
    if (err == -ENOSPC && want < cap) {
      const uint64_t grown = want < uint64_t{limit} + 64 ? uint64_t{want} + 1 : uint64_t{want} * 2;
      want = static_cast<uint32_t>(std::min<uint64_t>(grown, cap));
      continue;
    }
    ThrowNativeError(env, "bpf_map_lookup_batch", err);
    return -1;
  }
}

// get_next_key + lookup from `lastKey` (nullptr: the start), for kinds without batch lookup. An
// entry deleted between the two calls is skipped; so are empty slots (sockmap, program array),
// at most kMaxPageEntries of them per page, after which the page ends early with a cursor.
bool ReadKeyPage(Napi::Env env, int fd, const uint8_t *lastKey, size_t keySize, size_t valueSize,
                 uint32_t limit, Page &page) {
  page.keys.assign(size_t{limit} * keySize, 0);
  page.values.assign(size_t{limit} * valueSize, 0);
  std::vector<uint8_t> key(keySize), next(keySize);
  bool hasKey = lastKey != nullptr;
  if (hasKey) std::copy(lastKey, lastKey + keySize, key.begin());
  bool more = true;
  for (int64_t skipped = 0; page.count < limit && skipped <= kMaxPageEntries;) {
    int err = bpf_map_get_next_key(fd, hasKey ? key.data() : nullptr, next.data());
    if (err == -ENOENT) {
      more = false;
      break;
    }
    if (err != 0) {
      ThrowNativeError(env, "bpf_map_get_next_key", err);
      return false;
    }
    key.swap(next);
    hasKey = true;
    err = bpf_map_lookup_elem(fd, key.data(), page.values.data() + size_t{page.count} * valueSize);
    if (err == -ENOENT) {
      ++skipped;
      continue;
    }
    if (err != 0) {
      ThrowNativeError(env, "bpf_map_lookup_elem", err);
      return false;
    }
    std::copy(key.begin(), key.end(), page.keys.begin() + size_t{page.count} * keySize);
    ++page.count;
  }
  if (more && hasKey) {
    page.cursor.assign(1, kKeyCursor);
    page.cursor.insert(page.cursor.end(), key.begin(), key.end());
  }
  return true;
}

}  // namespace

Napi::Value MapReadPage(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  std::optional<Napi::Buffer<uint8_t>> cursor;
  if (!info[1].IsNull()) {
    cursor = BufferArg(env, info[1], "cursor (or null for the first page)");
    if (!cursor) return {};
  }
  const auto maxEntries = IntegerArg(env, info[2], "maxEntries", 1, kMaxPageEntries);
  if (!maxEntries) return {};
  const auto map = QueryMap(env, *fd);
  if (!map) return {};
  if (const char *why = Unreadable(*map)) {
    ThrowNativeError(env, "mapReadPage", EOPNOTSUPP,
                     "map '" + KernelString(map->name, sizeof map->name) + "' (" +
                         MapTypeName(static_cast<bpf_map_type>(map->type)) + ") " + why);
    return {};
  }
  const uint64_t valueSize = SyscallValueSize(env, *map);
  if (env.IsExceptionPending()) return {};
  const size_t keySize = map->key_size;
  // Bounded by bytes as well as entries; one entry always fits (values are at most a few MiB).
  const uint64_t cap = std::clamp<uint64_t>(kMaxPageBytes / (keySize + valueSize), 1, kMaxPageEntries);
  const auto limit = static_cast<uint32_t>(std::min<uint64_t>(*maxEntries, cap));
  // A hash map's token is its u32 bucket index, an array's its key.
  const size_t tokenSize = std::max<size_t>(keySize, sizeof(uint32_t));
  if (cursor) {
    const uint8_t *c = cursor->Data();
    const size_t n = cursor->Length();
    if (!(n == 1 + tokenSize && c[0] == kBatchCursor) && !(n == 1 + keySize && c[0] == kKeyCursor)) {
      ThrowRangeError(env, "cursor is not one that mapReadPage returned for this map");
      return {};
    }
  }

  Page page;
  bool batched = !cursor || cursor->Data()[0] == kBatchCursor;
  if (batched) {
    const uint8_t *token = cursor ? cursor->Data() + 1 : nullptr;
    const int read = ReadBatchPage(env, *fd, token, tokenSize, keySize, valueSize, limit,
                                   static_cast<uint32_t>(cap), page);
    if (read < 0) return {};
    batched = read == 1;
  }
  if (!batched &&
      !ReadKeyPage(env, *fd, cursor ? cursor->Data() + 1 : nullptr, keySize, valueSize, limit, page)) {
    return {};
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, page.keys.data(), size_t{page.count} * keySize));
  out.Set("values", Napi::Buffer<uint8_t>::Copy(env, page.values.data(), size_t{page.count} * valueSize));
  out.Set("count", Napi::Number::New(env, page.count));
  out.Set("cursor", page.cursor.empty()
                        ? env.Null()
                        : Napi::Buffer<uint8_t>::Copy(env, page.cursor.data(), page.cursor.size()));
  out.Set("batched", Napi::Boolean::New(env, batched));
  return out;
}

// ---- map details ----

namespace {

// BPF_MAP_FREEZE's flag is not in bpf_map_info; the map's fdinfo has it ("frozen:\t1").
std::optional<bool> MapFrozen(Napi::Env env, int fd) {
  const std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  const UniqueFd file(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) {
    ThrowNativeError(env, "open", errno, path);
    return std::nullopt;
  }
  std::string text;
  char chunk[1024];
  for (ssize_t n; text.size() < 16384 && (n = read(file.Get(), chunk, sizeof chunk)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ThrowNativeError(env, "read", errno, path);
      return std::nullopt;
    }
    text.append(chunk, n);
  }
  const size_t at = text.find("\nfrozen:\t");
  return at != std::string::npos && text.compare(at + 9, 1, "1") == 0;
}

Napi::Value MapDetails(Napi::Env env, int fd, const bpf_map_info &map) {
  const auto frozen = MapFrozen(env, fd);
  if (!frozen) return {};
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", map.id);
  out.Set("type", MapTypeName(static_cast<bpf_map_type>(map.type)));
  out.Set("name", KernelString(map.name, sizeof map.name));
  out.Set("keySize", map.key_size);
  out.Set("valueSize", map.value_size);
  out.Set("maxEntries", map.max_entries);
  out.Set("mapFlags", map.map_flags);
  out.Set("ifindex", map.ifindex);
  out.Set("btfId", map.btf_id);
  out.Set("btfKeyTypeId", map.btf_key_type_id);
  out.Set("btfValueTypeId", map.btf_value_type_id);
  out.Set("btfVmlinuxValueTypeId", map.btf_vmlinux_value_type_id);
  out.Set("btfVmlinuxId", map.btf_vmlinux_id);
  out.Set("mapExtra", BigU64(env, map.map_extra));
  out.Set("frozen", *frozen);
  return out;
}

}  // namespace

Napi::Value MapInfoByFd(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto map = QueryMap(env, *fd);
  return map ? MapDetails(env, *fd, *map) : Napi::Value();
}

Napi::Value MapInfoById(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bool gone = false;
  const UniqueFd fd = FdById(info, bpf_map_get_fd_by_id, "bpf_map_get_fd_by_id", gone);
  if (!fd) return gone ? env.Null() : Napi::Value();
  bpf_map_info map;
  if (const int err = ObjectInfo(fd.Get(), map); err != 0) {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", err);
    return {};
  }
  return MapDetails(env, fd.Get(), map);
}

// ---- ring buffer positions ----

Napi::Value RingBufferPositions(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto map = QueryMap(env, *fd);
  if (!map) return {};
  if (map->type != BPF_MAP_TYPE_RINGBUF) {
    ThrowNativeError(env, "ringBufferPositions", EINVAL,
                     "map '" + KernelString(map->name, sizeof map->name) + "' is a " +
                         MapTypeName(static_cast<bpf_map_type>(map->type)) +
                         ", not a kernel-to-user ring buffer (ringbuf)");
    return {};
  }
  // The consumer page (offset 0) and the producer page after it, read-only: the kernel allows
  // that mapping to anyone who may read the map, and a read-only one cannot move the consumer.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void *mem = mmap(nullptr, 2 * page, PROT_READ, MAP_SHARED, *fd, 0);
  if (mem == MAP_FAILED) {
    ThrowNativeError(env, "mmap", errno, "ring buffer positions");
    return {};
  }
  const auto *bytes = static_cast<const uint8_t *>(mem);
  const uint64_t consumer = __atomic_load_n(reinterpret_cast<const unsigned long *>(bytes), __ATOMIC_ACQUIRE);
  const uint64_t producer =
      __atomic_load_n(reinterpret_cast<const unsigned long *>(bytes + page), __ATOMIC_ACQUIRE);
  munmap(mem, 2 * page);
  Napi::Object out = Napi::Object::New(env);
  out.Set("size", map->max_entries);
  out.Set("consumer", BigU64(env, consumer));
  out.Set("producer", BigU64(env, producer));
  return out;
}

}  // namespace dfs
