// Errors and JS argument checks shared by every entry point of the addon:
// NativeError (an Error with numeric `errno` and string `op`), TypeError and
// RangeError for bad input, and the capture of libbpf's own messages so that a
// thrown error says why libbpf failed.
//
// Convention (exceptions are disabled): a function that throws into JS returns
// an empty value (or nullopt / nullptr) and the caller returns at once.
#pragma once

#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

namespace dfs {

// Routes libbpf's printing into a per-thread ring of recent messages instead of
// stderr. libbpf's print hook is process-wide; installing it twice is harmless.
void InstallLibbpfMessageCapture();

// Scope of one addon call that runs libbpf: messages captured inside it are
// appended to a NativeError thrown inside it, and forgotten when it ends.
class LibbpfMessageScope {
 public:
  LibbpfMessageScope();
  ~LibbpfMessageScope();
  LibbpfMessageScope(const LibbpfMessageScope &) = delete;
  LibbpfMessageScope &operator=(const LibbpfMessageScope &) = delete;
};

// A positive errno from a libbpf or syscall result of either sign. libbpf's
// private codes (LIBBPF_ERRNO__*, 4000 and up, e.g. "not an eBPF object")
// become EINVAL so that JS only ever sees system errnos; the thrown message
// keeps libbpf's own description.
int PositiveErrno(int err);

// The libbpf warnings captured since the innermost LibbpfMessageScope began, oldest first.
std::string RecentLibbpfMessages();

// Throws Error("<op>: <description>[: <detail>]" + captured libbpf messages)
// with `errno` = PositiveErrno(err) and `op`.
void ThrowNativeError(Napi::Env env, const char *op, int err, const std::string &detail = {});
void ThrowTypeError(Napi::Env env, const std::string &message);
void ThrowRangeError(Napi::Env env, const std::string &message);

// Argument readers. Each returns nullopt after throwing a TypeError (wrong JS
// type) or RangeError (right type, bad value), or at once when a JS exception
// is already pending (a getter that produced `value` threw); `what` names the
// argument.
std::optional<std::string> StringArg(Napi::Env env, Napi::Value value, const char *what);
std::optional<int64_t> IntegerArg(Napi::Env env, Napi::Value value, const char *what, int64_t min,
                                  int64_t max);
std::optional<Napi::Buffer<uint8_t>> BufferArg(Napi::Env env, Napi::Value value, const char *what);
// A file descriptor number: an integer in [0, INT32_MAX].
std::optional<int> FdArg(Napi::Env env, Napi::Value value);

// A name read from a BPF object (program, section, map) as a JS string, or nullopt after
// throwing NativeError EILSEQ (op `op`) when it is not valid UTF-8, as in a damaged string
// table: converted lossily, it would name a program that libbpf cannot find by that name.
std::optional<Napi::String> ObjectNameValue(Napi::Env env, const char *name, const char *what,
                                            const char *op);

}  // namespace dfs
