// The JS BpfObject: one opened (and maybe loaded) `struct bpf_object` with the
// verifier-log buffers libbpf writes into.
//
// Ownership rules:
// - BpfObject owns the bpf_object and every log buffer; libbpf keeps pointers
//   to the buffers, so they are freed only after bpf_object__close.
// - close() releases all of it and is idempotent; every other method then
//   throws EBADF. The GC finalizer releases an object that was never closed.
// - Links made by the attach methods do not borrow from the object (link.h),
//   so closing the object leaves them attached and valid.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "link.h"

namespace dfs {

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // openObject(elf, {name, logLevel, logSize})
  static Napi::Value Open(const Napi::CallbackInfo &info);

  // Only Open() gives a BpfObject a bpf_object; one made with `new` from JS
  // behaves as closed.
  explicit BpfObject(const Napi::CallbackInfo &info);
  ~BpfObject() override;

 private:
  struct FreeDeleter {
    void operator()(char *p) const { free(p); }
  };
  // calloc'ed, so the untouched part of a large buffer costs no memory.
  using LogBuffer = std::unique_ptr<char[], FreeDeleter>;

  Napi::Value Programs(const Napi::CallbackInfo &info);
  Napi::Value Maps(const Napi::CallbackInfo &info);
  Napi::Value SetAutoload(const Napi::CallbackInfo &info);
  Napi::Value Load(const Napi::CallbackInfo &info);
  Napi::Value AttachCgroup(const Napi::CallbackInfo &info);
  Napi::Value AttachToMap(const Napi::CallbackInfo &info);
  Napi::Value AttachAuto(const Napi::CallbackInfo &info);
  Napi::Value MapFd(const Napi::CallbackInfo &info);
  Napi::Value ProgramFd(const Napi::CallbackInfo &info);
  // object_vars.cc: the variables of a data section; a `const volatile` value before load.
  Napi::Value Variables(const Napi::CallbackInfo &info);
  Napi::Value SetVariable(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);

  // The open object, or nullptr after throwing EBADF (closed) as `op`.
  bpf_object *Get(Napi::Env env, const char *op);
  // Named program/map of the open object, or nullptr after throwing.
  bpf_program *FindProgram(Napi::Env env, Napi::Value name, const char *op);
  bpf_map *FindMap(Napi::Env env, Napi::Value name, const char *op);
  // A loaded program's/map's fd, or -1 after throwing.
  static int ProgramFdOf(Napi::Env env, const bpf_program *program);
  static int MapFdOf(Napi::Env env, const bpf_map *map);
  // Wraps a fresh attachment whose kernel object is `fd` into a JS BpfLink.
  static Napi::Value NewLink(Napi::Env env, std::unique_ptr<Attachment> attachment, int fd);
  static LogBuffer AllocateLog(size_t size);
  void Release();

  bpf_object *object_ = nullptr;
  uint32_t logLevel_ = 0;
  size_t logSize_ = 0;  // 0: no log buffers
  // Given to libbpf at open as kernel_log_buf; the kernel writes a BTF load
  // failure there (see Open for why the program logs are separate).
  LogBuffer btfLog_;
  // One per program, in program order, handed to libbpf just before load.
  std::vector<LogBuffer> programLogs_;
  // Instruction counts as in the ELF: load appends subprograms to each program.
  std::vector<size_t> elfInsnCounts_;
  bool loadCalled_ = false;
};

}  // namespace dfs
