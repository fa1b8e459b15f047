// Owns the JS BpfObject class: open from memory, load with verifier logs,
// describe programs and maps, attach programs, close (see object.h for the
// ownership rules).
#include "object.h"

#include <bpf/bpf.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "addon.h"
#include "errors.h"
#include "kernel_ops.h"
#include "names.h"
#include "unique_fd.h"

namespace dfs {
namespace {

// The kernel refuses verifier log buffers outside [128, UINT32_MAX >> 2].
constexpr int64_t kMinLogSize = 128;
constexpr int64_t kMaxLogSize = std::numeric_limits<uint32_t>::max() >> 2;
// BPF_LOG_LEVEL1 | BPF_LOG_LEVEL2 | BPF_LOG_STATS
constexpr int64_t kMaxLogLevel = 7;

bool IsMapAttachType(bpf_attach_type type) {
  return type == BPF_SK_MSG_VERDICT || type == BPF_SK_SKB_STREAM_PARSER ||
         type == BPF_SK_SKB_STREAM_VERDICT || type == BPF_SK_SKB_VERDICT;
}

}  // namespace

Napi::Function BpfObject::DefineClass(Napi::Env env) {
  return ObjectWrap<BpfObject>::DefineClass(
      env, "BpfObject",
      {InstanceMethod<&BpfObject::Programs>("programs"),
       InstanceMethod<&BpfObject::Maps>("maps"),
       InstanceMethod<&BpfObject::SetAutoload>("setAutoload"),
       InstanceMethod<&BpfObject::Load>("load"),
       InstanceMethod<&BpfObject::AttachCgroup>("attachCgroup"),
       InstanceMethod<&BpfObject::AttachToMap>("attachToMap"),
       InstanceMethod<&BpfObject::AttachAuto>("attachAuto"),
       InstanceMethod<&BpfObject::MapFd>("mapFd"),
       InstanceMethod<&BpfObject::ProgramFd>("programFd"),
       InstanceMethod<&BpfObject::Variables>("variables"),
       InstanceMethod<&BpfObject::SetVariable>("setVariable"),
       InstanceMethod<&BpfObject::Close>("close")});
}

BpfObject::BpfObject(const Napi::CallbackInfo &info) : ObjectWrap<BpfObject>(info) {}

BpfObject::~BpfObject() { Release(); }

Napi::Value BpfObject::Open(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const auto elf = BufferArg(env, info[0], "elf");
  if (!elf) return {};
  if (!info[1].IsObject()) {
    ThrowTypeError(env, "opts must be an object");
    return {};
  }
  const Napi::Object opts = info[1].As<Napi::Object>();
  const auto name = StringArg(env, opts.Get("name"), "opts.name");
  if (!name) return {};
  if (name->empty()) {
    ThrowRangeError(env, "opts.name must not be empty");
    return {};
  }
  const auto logLevel = IntegerArg(env, opts.Get("logLevel"), "opts.logLevel", 0, kMaxLogLevel);
  if (!logLevel) return {};
  const auto logSize = IntegerArg(env, opts.Get("logSize"), "opts.logSize", 0, kMaxLogSize);
  if (!logSize) return {};
  if (*logSize != 0 && *logSize < kMinLogSize) {
    ThrowRangeError(env, "opts.logSize must be 0 (no log) or at least " +
                             std::to_string(kMinLogSize) + " bytes");
    return {};
  }

  const Napi::Object object = env.GetInstanceData<AddonData>()->objectClass.New({});
  if (env.IsExceptionPending()) return {};
  BpfObject *self = Unwrap(object);
  self->logLevel_ = static_cast<uint32_t>(*logLevel);
  self->logSize_ = static_cast<size_t>(*logSize);
  if (self->logSize_ != 0) {
    self->btfLog_ = AllocateLog(self->logSize_);
    if (!self->btfLog_) {
      ThrowNativeError(env, "calloc", ENOMEM, "log buffer");
      return {};
    }
  }

  // The object-wide log level stays 0: at level 1 the kernel logs every BTF
  // type into kernel_log_buf, a small buffer then fails the BTF load with
  // ENOSPC, and libbpf drops the BTF as "optional", taking the source-line
  // annotations of the verifier log with it. At level 0 libbpf retries a
  // failed BTF load at level 1 into btfLog_, so the reason is still kept.
  // Load() gives each program the requested level and its own buffer.
  bpf_object_open_opts openOpts{};
  openOpts.sz = sizeof openOpts;
  openOpts.object_name = name->c_str();
  openOpts.kernel_log_buf = self->btfLog_.get();
  openOpts.kernel_log_size = self->logSize_;
  openOpts.kernel_log_level = 0;

  LibbpfMessageScope messages;
  // libelf may rewrite an image in place (byte-order conversion), so it gets
  // a copy rather than the caller's Buffer; libbpf keeps no pointer into it.
  std::vector<char> image(elf->Data(), elf->Data() + elf->Length());
  self->object_ = bpf_object__open_mem(image.data(), image.size(), &openOpts);
  if (self->object_ == nullptr) {
    ThrowNativeError(env, "bpf_object__open_mem", errno, "object '" + *name + "'");
    return {};
  }
  bpf_program *program;
  bpf_object__for_each_program(program, self->object_) {
    self->elfInsnCounts_.push_back(bpf_program__insn_cnt(program));
  }
  return object;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_object *object = Get(env, "programs");
  if (object == nullptr) return {};

  Napi::Array result = Napi::Array::New(env);
  uint32_t index = 0;
  bpf_program *program;
  bpf_object__for_each_program(program, object) {
    const bpf_prog_type type = bpf_program__type(program);
    bpf_prog_info kernelInfo{};
    if (const int fd = bpf_program__fd(program); fd >= 0) {
      if (const int err = ObjectInfo(fd, kernelInfo); err != 0) {
        ThrowNativeError(env, "bpf_obj_get_info_by_fd", err, bpf_program__name(program));
        return {};
      }
    }
    const auto name = ObjectNameValue(env, bpf_program__name(program), "program", "bpf_program__name");
    if (!name) return {};
    const auto section =
        ObjectNameValue(env, bpf_program__section_name(program), "section", "bpf_program__section_name");
    if (!section) return {};
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", *name);
    entry.Set("section", *section);
    entry.Set("type", ProgTypeName(type));
    entry.Set("attachType",
              ExpectedAttachTypeName(type, bpf_program__expected_attach_type(program)));
    entry.Set("insnCount", Napi::Number::New(env, elfInsnCounts_[index]));
    entry.Set("id", Napi::Number::New(env, kernelInfo.id));
    result.Set(index++, entry);
  }
  return result;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_object *object = Get(env, "maps");
  if (object == nullptr) return {};

  Napi::Array result = Napi::Array::New(env);
  uint32_t index = 0;
  bpf_map *map;
  bpf_object__for_each_map(map, object) {
    bpf_map_info kernelInfo{};
    if (const int fd = bpf_map__fd(map); fd >= 0) {
      if (const int err = ObjectInfo(fd, kernelInfo); err != 0) {
        ThrowNativeError(env, "bpf_obj_get_info_by_fd", err, bpf_map__name(map));
        return {};
      }
    }
    const auto name = ObjectNameValue(env, bpf_map__name(map), "map", "bpf_map__name");
    if (!name) return {};
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", *name);
    entry.Set("type", MapTypeName(bpf_map__type(map)));
    entry.Set("keySize", Napi::Number::New(env, bpf_map__key_size(map)));
    entry.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(map)));
    entry.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(map)));
    entry.Set("id", Napi::Number::New(env, kernelInfo.id));
    result.Set(index++, entry);
  }
  return result;
}

Napi::Value BpfObject::AttachCgroup(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_program *program = FindProgram(env, info[0], "attachCgroup");
  if (program == nullptr) return {};
  const auto path = StringArg(env, info[1], "cgroupPath");
  if (!path) return {};

  const UniqueFd cgroup(open(path->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup) {
    ThrowNativeError(env, "open", errno, *path);
    return {};
  }
  LibbpfMessageScope messages;
  // The link holds its own reference to the cgroup; our fd closes on return.
  bpf_link *link = bpf_program__attach_cgroup(program, cgroup.Get());
  if (link == nullptr) {
    ThrowNativeError(env, "bpf_program__attach_cgroup", errno, *path);
    return {};
  }
  return NewLink(env, LibbpfLinkAttachment(link), bpf_link__fd(link));
}

Napi::Value BpfObject::AttachToMap(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_program *program = FindProgram(env, info[0], "attachToMap");
  if (program == nullptr) return {};
  bpf_map *map = FindMap(env, info[1], "attachToMap");
  if (map == nullptr) return {};
  const auto typeName = StringArg(env, info[2], "attachType");
  if (!typeName) return {};
  const auto type = AttachTypeByName(*typeName);
  if (!type || !IsMapAttachType(*type)) {
    ThrowRangeError(env, "attachType must be sk_msg_verdict, sk_skb_stream_parser, "
                         "sk_skb_stream_verdict or sk_skb_verdict, got '" + *typeName + "'");
    return {};
  }
  const int progFd = ProgramFdOf(env, program);
  if (progFd < 0) return {};
  const int mapFd = MapFdOf(env, map);
  if (mapFd < 0) return {};

  // Kernels since 6.10 make sockmap attachments BPF links; older ones reject
  // BPF_LINK_CREATE for these program types and only know BPF_PROG_ATTACH.
  const int linkFd = bpf_link_create(progFd, mapFd, *type, nullptr);
  if (linkFd >= 0) return NewLink(env, LinkFdAttachment(UniqueFd(linkFd)), linkFd);
  if (linkFd != -EINVAL && linkFd != -EOPNOTSUPP) {
    ThrowNativeError(env, "bpf_link_create", linkFd);
    return {};
  }

  // The legacy attachment detaches with its own copies of both fds, so it
  // still works after the object (and its fds) is closed, and it keeps the
  // map alive as a link would.
  UniqueFd progCopy(fcntl(progFd, F_DUPFD_CLOEXEC, 0));
  if (!progCopy) {
    ThrowNativeError(env, "fcntl", errno, "F_DUPFD_CLOEXEC");
    return {};
  }
  UniqueFd mapCopy(fcntl(mapFd, F_DUPFD_CLOEXEC, 0));
  if (!mapCopy) {
    ThrowNativeError(env, "fcntl", errno, "F_DUPFD_CLOEXEC");
    return {};
  }
  if (const int err = bpf_prog_attach(progFd, mapFd, *type, 0); err != 0) {
    ThrowNativeError(env, "bpf_prog_attach", err);
    return {};
  }
  return NewLink(env, MapAttachment(std::move(progCopy), std::move(mapCopy), *type), -1);
}

Napi::Value BpfObject::AttachAuto(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_program *program = FindProgram(env, info[0], "attachAuto");
  if (program == nullptr) return {};

  LibbpfMessageScope messages;
  bpf_link *link = bpf_program__attach(program);
  if (link == nullptr) {
    ThrowNativeError(env, "bpf_program__attach", errno, bpf_program__section_name(program));
    return {};
  }
  return NewLink(env, LibbpfLinkAttachment(link), bpf_link__fd(link));
}

Napi::Value BpfObject::MapFd(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const bpf_map *map = FindMap(env, info[0], "mapFd");
  if (map == nullptr) return {};
  const int fd = MapFdOf(env, map);
  return fd < 0 ? Napi::Value() : Napi::Number::New(env, fd);
}

Napi::Value BpfObject::ProgramFd(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  const bpf_program *program = FindProgram(env, info[0], "programFd");
  if (program == nullptr) return {};
  const int fd = ProgramFdOf(env, program);
  return fd < 0 ? Napi::Value() : Napi::Number::New(env, fd);
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo &) {
  Release();
  return {};
}

bpf_object *BpfObject::Get(Napi::Env env, const char *op) {
  if (object_ == nullptr) ThrowNativeError(env, op, EBADF, "the BPF object is closed");
  return object_;
}

bpf_program *BpfObject::FindProgram(Napi::Env env, Napi::Value name, const char *op) {
  bpf_object *object = Get(env, op);
  if (object == nullptr) return nullptr;
  const auto programName = StringArg(env, name, "program");
  if (!programName) return nullptr;
  bpf_program *program = bpf_object__find_program_by_name(object, programName->c_str());
  if (program == nullptr) {
    ThrowNativeError(env, "bpf_object__find_program_by_name", ENOENT,
                     "no program '" + *programName + "'");
  }
  return program;
}

bpf_map *BpfObject::FindMap(Napi::Env env, Napi::Value name, const char *op) {
  bpf_object *object = Get(env, op);
  if (object == nullptr) return nullptr;
  const auto mapName = StringArg(env, name, "map");
  if (!mapName) return nullptr;
  bpf_map *map = bpf_object__find_map_by_name(object, mapName->c_str());
  if (map == nullptr) {
    ThrowNativeError(env, "bpf_object__find_map_by_name", ENOENT, "no map '" + *mapName + "'");
  }
  return map;
}

int BpfObject::ProgramFdOf(Napi::Env env, const bpf_program *program) {
  const int fd = bpf_program__fd(program);
  if (fd < 0) {
    ThrowNativeError(env, "bpf_program__fd", EBADF,
                     "program '" + std::string(bpf_program__name(program)) + "' is not loaded");
  }
  return fd;
}

int BpfObject::MapFdOf(Napi::Env env, const bpf_map *map) {
  const int fd = bpf_map__fd(map);
  if (fd < 0) {
    ThrowNativeError(env, "bpf_map__fd", EBADF,
                     "map '" + std::string(bpf_map__name(map)) + "' is not loaded");
  }
  return fd;
}

Napi::Value BpfObject::NewLink(Napi::Env env, std::unique_ptr<Attachment> attachment, int linkFd) {
  const int64_t id = linkFd < 0 ? 0 : LinkIdOfFd(linkFd);
  if (id < 0) {
    ThrowNativeError(env, "bpf_obj_get_info_by_fd", static_cast<int>(id), "link");
    return {};  // `attachment` detaches itself
  }
  return BpfLink::New(env, std::move(attachment), static_cast<uint32_t>(id));
}

BpfObject::LogBuffer BpfObject::AllocateLog(size_t size) {
  return LogBuffer(static_cast<char *>(calloc(size, 1)));
}

void BpfObject::Release() {
  if (object_ != nullptr) bpf_object__close(object_);
  object_ = nullptr;
  btfLog_.reset();
  programLogs_.clear();
}

}  // namespace dfs
