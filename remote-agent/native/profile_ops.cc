// Owns the JS RingBufferPoll class and the run-time statistics and map dump functions (see
// profile_ops.h for the ownership rules).
#include "profile_ops.h"

#include <bpf/bpf.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

#include "addon.h"
#include "errors.h"
#include "kernel_ops.h"

namespace dfs {
namespace {

constexpr int64_t kMaxPerWake = 1 << 20;
constexpr int64_t kMaxDumpEntries = 1 << 22;
constexpr uint32_t kBatchEntries = 1024;
// The kernel's ENOTSUPP (not in userspace errno.h): the map kind has no batch ops.
constexpr int kKernelENOTSUPP = 524;

}  // namespace

Napi::Function RingBufferPoll::DefineClass(Napi::Env env) {
  return ObjectWrap<RingBufferPoll>::DefineClass(env, "RingBufferPoll",
                                                 {InstanceMethod<&RingBufferPoll::Close>("close")});
}

RingBufferPoll::RingBufferPoll(const Napi::CallbackInfo &info) : ObjectWrap<RingBufferPoll>(info) {}

RingBufferPoll::~RingBufferPoll() { Release(); }

Napi::Value RingBufferPoll::Open(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  if (!info[1].IsFunction()) {
    ThrowTypeError(env, "callback must be a function");
    return {};
  }
  const auto maxPerWake = IntegerArg(env, info[2], "maxPerWake", 1, kMaxPerWake);
  if (!maxPerWake) return {};
  const auto map = QueryMap(env, *fd);
  if (!map) return {};
  if (map->type != BPF_MAP_TYPE_RINGBUF) {
    ThrowNativeError(env, "ring_buffer__new", EINVAL, "the map is not a ring buffer");
    return {};
  }

  const Napi::Object object = env.GetInstanceData<AddonData>()->ringBufferClass.New({});
  if (env.IsExceptionPending()) return {};
  RingBufferPoll *self = Unwrap(object);
  self->mapFd_ = UniqueFd(fcntl(*fd, F_DUPFD_CLOEXEC, 0));
  if (!self->mapFd_) {
    ThrowNativeError(env, "fcntl", errno, "F_DUPFD_CLOEXEC");
    return {};
  }
  self->maxPerWake_ = static_cast<uint32_t>(*maxPerWake);
  LibbpfMessageScope messages;
  self->ring_ = ring_buffer__new(self->mapFd_.Get(), &RingBufferPoll::OnSample, self, nullptr);
  if (self->ring_ == nullptr) {
    ThrowNativeError(env, "ring_buffer__new", errno);
    return {};
  }
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    self->Release();
    ThrowNativeError(env, "napi_get_uv_event_loop", EINVAL);
    return {};
  }
  self->poll_ = new uv_poll_t;
  if (const int err = uv_poll_init(loop, self->poll_, ring_buffer__epoll_fd(self->ring_)); err != 0) {
    delete self->poll_;
    self->poll_ = nullptr;
    self->Release();
    ThrowNativeError(env, "uv_poll_init", err);
    return {};
  }
  self->poll_->data = self;
  uv_unref(reinterpret_cast<uv_handle_t *>(self->poll_));
  if (const int err = uv_poll_start(self->poll_, UV_READABLE, &RingBufferPoll::OnPoll); err != 0) {
    self->Release();
    ThrowNativeError(env, "uv_poll_start", err);
    return {};
  }
  self->callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  return object;
}

int RingBufferPoll::OnSample(void *ctx, void *data, size_t size) {
  auto *self = static_cast<RingBufferPoll *>(ctx);
  const auto *bytes = static_cast<const uint8_t *>(data);
  self->batch_.emplace_back(bytes, bytes + size);
  return 0;
}

void RingBufferPoll::OnPoll(uv_poll_t *handle, int status, int) {
  auto *self = static_cast<RingBufferPoll *>(handle->data);
  if (self == nullptr || self->ring_ == nullptr) return;
  if (status < 0) {
    uv_poll_stop(handle);
    self->Deliver(uv_strerror(status));
    return;
  }
  // Bounded per wake-up: the epoll fd is level-triggered, so what is left wakes us again.
  const int n = ring_buffer__consume_n(self->ring_, self->maxPerWake_);
  self->Deliver(n < 0 ? strerror(-n) : nullptr);
}

void RingBufferPoll::Deliver(const char *error) {
  if (batch_.empty() && error == nullptr) return;
  const Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Array events = Napi::Array::New(env, batch_.size());
  for (size_t i = 0; i < batch_.size(); ++i) {
    events.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, batch_[i].data(), batch_[i].size()));
  }
  batch_.clear();
  if (callback_.IsEmpty()) return;
  consuming_ = true;
  callback_.MakeCallback(env.Global(), {events, error == nullptr ? env.Undefined() : Napi::String::New(env, error)});
  consuming_ = false;
  if (env.IsExceptionPending()) {
    const Napi::Error err = env.GetAndClearPendingException();
    napi_fatal_exception(env, err.Value());
  }
  if (closeRequested_) Release();
}

Napi::Value RingBufferPoll::Close(const Napi::CallbackInfo &info) {
  closeRequested_ = true;
  if (!consuming_) Release();
  return info.Env().Undefined();
}

void RingBufferPoll::Release() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(poll_),
             [](uv_handle_t *handle) { delete reinterpret_cast<uv_poll_t *>(handle); });
    poll_ = nullptr;
  }
  if (ring_ != nullptr) ring_buffer__free(ring_);
  ring_ = nullptr;
  mapFd_.Reset();
  batch_.clear();
  if (!callback_.IsEmpty()) callback_.Reset();
}

Napi::Value EnableRunTimeStats(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) {
    ThrowNativeError(env, "bpf_enable_stats", fd, "BPF_STATS_RUN_TIME");
    return {};
  }
  return Napi::Number::New(env, fd);
}

Napi::Value ProgramStats(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  bpf_prog_info prog;
  if (const int err = ObjectInfo(*fd, prog); err != 0) {
    ThrowNativeError(env, "bpf_prog_get_info_by_fd", err, "fd " + std::to_string(*fd));
    return {};
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", Napi::Number::New(env, prog.id));
  out.Set("name", std::string(prog.name, strnlen(prog.name, sizeof prog.name)));
  out.Set("runTimeNs", Napi::Number::New(env, static_cast<double>(prog.run_time_ns)));
  out.Set("runCnt", Napi::Number::New(env, static_cast<double>(prog.run_cnt)));
  out.Set("recursionMisses", Napi::Number::New(env, static_cast<double>(prog.recursion_misses)));
  return out;
}

Napi::Value MapDump(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto fd = FdArg(env, info[0]);
  if (!fd) return {};
  const auto maxEntries = IntegerArg(env, info[1], "maxEntries", 0, kMaxDumpEntries);
  if (!maxEntries) return {};
  const auto map = QueryMap(env, *fd);
  if (!map) return {};
  const uint64_t valueSize = SyscallValueSize(env, *map);
  if (env.IsExceptionPending()) return {};
  const size_t keySize = map->key_size;
  if (keySize == 0) {
    ThrowNativeError(env, "mapDump", EINVAL, "the map has no keys (queue, stack or ring buffer)");
    return {};
  }
  const auto limit = static_cast<size_t>(std::min<int64_t>(*maxEntries, map->max_entries));

  std::vector<uint8_t> keys;
  std::vector<uint8_t> values;
  size_t count = 0;
  // Batch lookup where the map supports it (hash and array kinds): one syscall per 1024.
  std::vector<uint8_t> batch(std::max<size_t>(keySize, 8));
  bool batched = true;
  bool first = true;
  while (count < limit) {
    const uint32_t want = static_cast<uint32_t>(std::min<size_t>(kBatchEntries, limit - count));
    keys.resize((count + want) * keySize);
    values.resize((count + want) * valueSize);
    uint32_t got = want;
    bpf_map_batch_opts opts{};
    opts.sz = sizeof opts;
    const int err = bpf_map_lookup_batch(*fd, first ? nullptr : batch.data(), batch.data(),
                                         keys.data() + count * keySize, values.data() + count * valueSize,
                                         &got, &opts);
    const int e = err < 0 ? errno : 0;
    if (err < 0 && e != ENOENT) {
      if (first && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == kKernelENOTSUPP)) {
        batched = false;
        break;
      }
      ThrowNativeError(env, "bpf_map_lookup_batch", e);
      return {};
    }
    first = false;
    count += std::min(got, want);
    if (err < 0) break;  // ENOENT: that was the last batch
  }
  if (!batched) {
    // get_next_key + lookup: every other kind (stack traces, ...). An entry deleted between
    // the two calls is skipped.
    count = 0;
    keys.assign(limit * keySize, 0);
    values.assign(limit * valueSize, 0);
    std::vector<uint8_t> key(keySize), next(keySize);
    bool hasKey = false;
    while (count < limit) {
      if (bpf_map_get_next_key(*fd, hasKey ? key.data() : nullptr, next.data()) != 0) {
        if (errno == ENOENT) break;
        ThrowNativeError(env, "bpf_map_get_next_key", errno);
        return {};
      }
      key = next;
      hasKey = true;
      if (bpf_map_lookup_elem(*fd, key.data(), values.data() + count * valueSize) != 0) {
        if (errno == ENOENT) continue;
        ThrowNativeError(env, "bpf_map_lookup_elem", errno);
        return {};
      }
      std::copy(key.begin(), key.end(), keys.begin() + count * keySize);
      ++count;
    }
  }
  Napi::Array out = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; ++i) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("key", Napi::Buffer<uint8_t>::Copy(env, keys.data() + i * keySize, keySize));
    entry.Set("value", Napi::Buffer<uint8_t>::Copy(env, values.data() + i * valueSize, valueSize));
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

}  // namespace dfs
