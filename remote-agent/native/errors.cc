// Owns the libbpf print hook and the per-thread ring of recent libbpf
// messages, NativeError construction, and the JS argument readers.
#include "errors.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>

namespace dfs {
namespace {

constexpr size_t kKeptMessages = 8;
constexpr size_t kMaxMessageLength = 512;

// libbpf calls the print hook on the thread that runs the libbpf call, so a
// thread-local ring keeps Node worker threads apart without locking.
thread_local std::deque<std::string> recentMessages;

__attribute__((format(printf, 2, 0))) int CaptureLibbpfMessage(enum libbpf_print_level level,
                                                                const char *format,
                                                                va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[kMaxMessageLength];
  const int n = vsnprintf(line, sizeof line, format, args);
  if (n <= 0) return n;
  std::string message(line, std::min(static_cast<size_t>(n), sizeof line - 1));
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (recentMessages.size() == kKeptMessages) recentMessages.pop_front();
  recentMessages.push_back(std::move(message));
  return n;
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t len;
    uint32_t min;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// Printable ASCII as is, every other byte as \xNN: safe to put in any message.
std::string Escaped(const char *s) {
  std::string out;
  for (const unsigned char *p = reinterpret_cast<const unsigned char *>(s); *p != 0; ++p) {
    if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
      out += static_cast<char>(*p);
    } else {
      char hex[5];
      snprintf(hex, sizeof hex, "\\x%02x", *p);
      out += hex;
    }
  }
  return out;
}

}  // namespace

void InstallLibbpfMessageCapture() { libbpf_set_print(CaptureLibbpfMessage); }

LibbpfMessageScope::LibbpfMessageScope() { recentMessages.clear(); }
LibbpfMessageScope::~LibbpfMessageScope() { recentMessages.clear(); }

std::string RecentLibbpfMessages() {
  std::string joined;
  for (const std::string &m : recentMessages) joined += (joined.empty() ? "" : "\n") + m;
  return joined;
}

int PositiveErrno(int err) {
  const int positive = err < 0 ? -err : err;
  return positive >= __LIBBPF_ERRNO__START ? EINVAL : positive;
}

void ThrowNativeError(Napi::Env env, const char *op, int err, const std::string &detail) {
  char description[256];
  libbpf_strerror(err, description, sizeof description);  // knows system and libbpf codes
  std::string message = std::string(op) + ": " + description;
  if (!detail.empty()) message += ": " + detail;
  for (const std::string &line : recentMessages) message += "\n  " + line;

  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, PositiveErrno(err)));
  error.Set("op", Napi::String::New(env, op));
  error.ThrowAsJavaScriptException();
}

void ThrowTypeError(Napi::Env env, const std::string &message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

void ThrowRangeError(Napi::Env env, const std::string &message) {
  Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
}

std::optional<std::string> StringArg(Napi::Env env, Napi::Value value, const char *what) {
  if (env.IsExceptionPending()) return std::nullopt;  // e.g. a throwing getter produced `value`
  if (!value.IsString()) {
    ThrowTypeError(env, std::string(what) + " must be a string");
    return std::nullopt;
  }
  return value.As<Napi::String>().Utf8Value();
}

std::optional<int64_t> IntegerArg(Napi::Env env, Napi::Value value, const char *what, int64_t min,
                                  int64_t max) {
  if (env.IsExceptionPending()) return std::nullopt;
  if (!value.IsNumber()) {
    ThrowTypeError(env, std::string(what) + " must be a number");
    return std::nullopt;
  }
  const double number = value.As<Napi::Number>().DoubleValue();
  // Compare as doubles first so that NaN, infinities and huge values never
  // reach the integer conversion.
  if (!std::isfinite(number) || std::trunc(number) != number ||
      number < static_cast<double>(min) || number > static_cast<double>(max)) {
    char got[32];
    snprintf(got, sizeof got, "%g", number);
    ThrowRangeError(env, std::string(what) + " must be an integer in [" + std::to_string(min) +
                             ", " + std::to_string(max) + "], got " + got);
    return std::nullopt;
  }
  return static_cast<int64_t>(number);
}

std::optional<Napi::Buffer<uint8_t>> BufferArg(Napi::Env env, Napi::Value value, const char *what) {
  if (env.IsExceptionPending()) return std::nullopt;
  if (!value.IsBuffer()) {
    ThrowTypeError(env, std::string(what) + " must be a Buffer");
    return std::nullopt;
  }
  return value.As<Napi::Buffer<uint8_t>>();
}

std::optional<Napi::String> ObjectNameValue(Napi::Env env, const char *name, const char *what,
                                            const char *op) {
  if (name == nullptr) name = "";
  if (!IsValidUtf8(reinterpret_cast<const unsigned char *>(name), strlen(name))) {
    ThrowNativeError(env, op, EILSEQ,
                     std::string(what) + " name '" + Escaped(name) + "' is not valid UTF-8");
    return std::nullopt;
  }
  return Napi::String::New(env, name);
}

std::optional<int> FdArg(Napi::Env env, Napi::Value value) {
  const auto fd = IntegerArg(env, value, "fd", 0, std::numeric_limits<int>::max());
  if (!fd) return std::nullopt;
  return static_cast<int>(*fd);
}

}  // namespace dfs
