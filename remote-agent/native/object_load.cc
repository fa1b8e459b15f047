// Owns BpfObject.load() and setAutoload(): per-program log buffers and levels, the load
// itself, and the combined and per-program verifier logs it returns (see object.h).
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "object.h"

namespace dfs {

Napi::Value BpfObject::SetAutoload(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_program *program = FindProgram(env, info[0], "setAutoload");
  if (program == nullptr) return {};
  if (!info[1].IsBoolean()) {
    ThrowTypeError(env, "setAutoload: autoload must be a boolean");
    return {};
  }
  if (loadCalled_) {
    ThrowNativeError(env, "bpf_program__set_autoload", EBUSY, "the object is already loaded");
    return {};
  }
  if (const int err = bpf_program__set_autoload(program, info[1].As<Napi::Boolean>().Value()); err != 0) {
    ThrowNativeError(env, "bpf_program__set_autoload", err);
    return {};
  }
  return env.Undefined();
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_object *object = Get(env, "bpf_object__load");
  if (object == nullptr) return {};
  if (loadCalled_) {
    ThrowNativeError(env, "bpf_object__load", EINVAL, "load() may be called once per object");
    return {};
  }
  loadCalled_ = true;

  // One buffer per program: in a shared buffer each program's log would
  // overwrite the one before. These setters cannot fail before the load.
  // Programs with autoload off (setAutoload) are not loaded and get no buffer.
  std::vector<bpf_program *> loaded;
  bpf_program *program;
  bpf_object__for_each_program(program, object) {
    if (!bpf_program__autoload(program)) continue;
    loaded.push_back(program);
    bpf_program__set_log_level(program, logLevel_);
    if (logSize_ == 0) continue;
    LogBuffer log = AllocateLog(logSize_);
    if (!log) {
      ThrowNativeError(env, "calloc", ENOMEM, "log buffer");
      return {};
    }
    bpf_program__set_log_buf(program, log.get(), logSize_);
    programLogs_.push_back(std::move(log));
  }

  LibbpfMessageScope messages;
  const int err = bpf_object__load(object);

  // ENOSPC is the kernel's signal that a log was cut short; a log that fills
  // its buffer counts too, in case another error was reported instead.
  std::string log;
  bool truncated = err == -ENOSPC;
  // Appends one buffer to the combined log; returns whether it was full.
  const auto append = [&](const LogBuffer &buffer) {
    const size_t length = strnlen(buffer.get(), logSize_);
    log.append(buffer.get(), length);
    return length + 1 >= logSize_;
  };
  if (btfLog_) truncated = append(btfLog_) || truncated;

  // Each loaded program's own log, in load order (libbpf stops at the first failure, so the
  // programs after it have empty logs).
  Napi::Array programs = Napi::Array::New(env, loaded.size());
  for (size_t i = 0; i < loaded.size(); ++i) {
    const auto name = ObjectNameValue(env, bpf_program__name(loaded[i]), "program", "bpf_program__name");
    if (!name) return {};
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", *name);
    std::string own;
    bool full = false;
    if (i < programLogs_.size()) {
      const LogBuffer &buffer = programLogs_[i];
      own.assign(buffer.get(), strnlen(buffer.get(), logSize_));
      full = append(buffer);
    }
    truncated = truncated || full;
    entry.Set("log", own);
    entry.Set("truncated", full || (err == -ENOSPC && !own.empty()));
    programs.Set(static_cast<uint32_t>(i), entry);
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("errno", Napi::Number::New(env, err == 0 ? 0 : PositiveErrno(err)));
  result.Set("log", log);
  result.Set("logTruncated", truncated);
  result.Set("programs", programs);
  // Why a load failed before (or besides) the verifier: map creation, relocation, BTF.
  result.Set("messages", err == 0 ? std::string() : RecentLibbpfMessages());
  return result;
}

}  // namespace dfs
