// Attachments (the kernel references that keep a program attached) and the JS
// BpfLink that owns one.
//
// Ownership rules:
// - A BpfLink owns at most one Attachment; destroy() detaches it and drops it,
//   so a second destroy() finds nothing and does nothing.
// - An Attachment holds its own kernel references: a libbpf bpf_link, a BPF
//   link fd, or its own dups of the program and map fds. It never points into
//   a bpf_object, so BpfObject.close() and BpfLink.destroy() may run in any
//   order; a link outlives the object's fds and keeps its program loaded.
// - Each Attachment detaches itself when destroyed, so a link that JS drops
//   without destroy() is detached by the GC finalizer, exactly once.
// - disconnect() gives the attachment away (it was pinned): from then on,
//   destroy() and the finalizer only drop our references, never detach.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <cstdint>
#include <memory>

#include "unique_fd.h"

namespace dfs {

class Attachment {
 public:
  virtual ~Attachment() = default;
  // Detaches and releases the kernel references. Returns 0 or a negative
  // errno; either way the attachment is empty afterwards.
  virtual int Detach() = 0;
  // The call whose failure Detach() reports, for NativeError.op.
  virtual const char *DetachOp() const = 0;
  // The link fd to pin, or -1 when the attachment is not a link.
  virtual int Fd() const = 0;
  // After this, Detach() only releases our references (see disconnect()).
  virtual void Disconnect() = 0;
};

// A link made by libbpf (cgroup, tracepoint, raw_tp, ...).
std::unique_ptr<Attachment> LibbpfLinkAttachment(bpf_link *link);
// A link made by BPF_LINK_CREATE; closing its last fd detaches it.
std::unique_ptr<Attachment> LinkFdAttachment(UniqueFd link);
// A legacy BPF_PROG_ATTACH of a program to a map (sockmap/sockhash).
std::unique_ptr<Attachment> MapAttachment(UniqueFd prog, UniqueFd map, bpf_attach_type type);

class BpfLink : public Napi::ObjectWrap<BpfLink> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // A new JS BpfLink owning `attachment`; `id` is the kernel link id (0 for a
  // legacy attachment). Returns an empty value after throwing; the attachment
  // is then detached.
  static Napi::Value New(Napi::Env env, std::unique_ptr<Attachment> attachment, uint32_t id);

  // Only New() gives a BpfLink an attachment; one made with `new` from JS
  // stays empty (id 0, destroy() does nothing).
  explicit BpfLink(const Napi::CallbackInfo &info);

 private:
  Napi::Value Id(const Napi::CallbackInfo &info);
  Napi::Value Fd(const Napi::CallbackInfo &info);
  Napi::Value Destroy(const Napi::CallbackInfo &info);
  Napi::Value Disconnect(const Napi::CallbackInfo &info);

  std::unique_ptr<Attachment> attachment_;
  uint32_t id_ = 0;
};

}  // namespace dfs
