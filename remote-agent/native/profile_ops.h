// What a running profile needs from the kernel besides BpfObject: a ring buffer read on the
// Node event loop (RingBufferPoll), BPF run-time statistics, and a bulk dump of any map.
//
// Ownership rules of RingBufferPoll:
// - It owns a dup of the ring buffer map's fd, libbpf's ring_buffer (which mmaps the map, so
//   it stays valid when the BpfObject closes first) and a heap uv_poll_t on the ring buffer's
//   epoll fd. No thread: libuv wakes the main loop when the epoll fd is readable, the poll
//   callback consumes what is there (bounded per wake-up) and calls JS once with the batch.
// - close() stops the poll and frees all of it and is idempotent; when JS calls close() from
//   inside its own callback, the release waits until the consume returns. The uv handle is
//   freed in its close callback. The GC finalizer closes a poll that JS dropped.
// - The handle is unref'd: a poll never keeps the process alive.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <vector>

#include "unique_fd.h"

namespace dfs {

class RingBufferPoll : public Napi::ObjectWrap<RingBufferPoll> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // ringBufferPoll(mapFd, callback(events: Buffer[], error?: string), maxPerWake)
  static Napi::Value Open(const Napi::CallbackInfo &info);

  explicit RingBufferPoll(const Napi::CallbackInfo &info);
  ~RingBufferPoll() override;

 private:
  Napi::Value Close(const Napi::CallbackInfo &info);
  static void OnPoll(uv_poll_t *handle, int status, int events);
  static int OnSample(void *ctx, void *data, size_t size);
  void Deliver(const char *error);
  void Release();

  ring_buffer *ring_ = nullptr;
  uv_poll_t *poll_ = nullptr;  // freed by uv_close's callback
  UniqueFd mapFd_;
  Napi::FunctionReference callback_;
  std::vector<std::vector<uint8_t>> batch_;
  uint32_t maxPerWake_ = 0;
  bool consuming_ = false;
  bool closeRequested_ = false;
};

// enableRunTimeStats(): fd of BPF_ENABLE_STATS(BPF_STATS_RUN_TIME); stats stay on while it is open.
Napi::Value EnableRunTimeStats(const Napi::CallbackInfo &info);
// programStats(progFd): {id, name, runTimeNs, runCnt, recursionMisses}
Napi::Value ProgramStats(const Napi::CallbackInfo &info);
// mapDump(mapFd, maxEntries): [{key, value}] raw Buffers (per-CPU values: every CPU's slot)
Napi::Value MapDump(const Napi::CallbackInfo &info);

}  // namespace dfs
