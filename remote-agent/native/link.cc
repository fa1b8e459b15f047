// Owns the three kinds of attachment and the JS BpfLink class (see link.h for
// the ownership rules).
#include "link.h"

#include <bpf/bpf.h>

#include <utility>

#include "addon.h"
#include "errors.h"

namespace dfs {
namespace {

class LibbpfLink final : public Attachment {
 public:
  explicit LibbpfLink(bpf_link *link) : link_(link) {}
  ~LibbpfLink() override { Detach(); }

  int Detach() override {
    // bpf_link__destroy frees the link even when detaching fails.
    const int err = link_ != nullptr ? bpf_link__destroy(link_) : 0;
    link_ = nullptr;
    return err;
  }
  const char *DetachOp() const override { return "bpf_link__destroy"; }
  int Fd() const override { return link_ != nullptr ? bpf_link__fd(link_) : -1; }
  void Disconnect() override {
    if (link_ != nullptr) bpf_link__disconnect(link_);
  }

 private:
  bpf_link *link_;
};

class LinkFd final : public Attachment {
 public:
  explicit LinkFd(UniqueFd link) : link_(std::move(link)) {}

  int Detach() override {
    link_.Reset();
    return 0;
  }
  const char *DetachOp() const override { return "close"; }
  int Fd() const override { return link_ ? link_.Get() : -1; }
  // Closing our fd of a pinned link leaves the link attached: nothing to do.
  void Disconnect() override {}

 private:
  UniqueFd link_;  // closing the last reference detaches
};

class ProgToMap final : public Attachment {
 public:
  ProgToMap(UniqueFd prog, UniqueFd map, bpf_attach_type type)
      : prog_(std::move(prog)), map_(std::move(map)), type_(type) {}
  ~ProgToMap() override { Detach(); }

  int Detach() override {
    const int err = prog_ && !disconnected_ ? bpf_prog_detach2(prog_.Get(), map_.Get(), type_) : 0;
    prog_.Reset();
    map_.Reset();
    return err;
  }
  const char *DetachOp() const override { return "bpf_prog_detach2"; }
  int Fd() const override { return -1; }
  // The map (pinned by the caller) keeps the program attached.
  void Disconnect() override { disconnected_ = true; }

 private:
  UniqueFd prog_;
  UniqueFd map_;
  bpf_attach_type type_;
  bool disconnected_ = false;
};

}  // namespace

std::unique_ptr<Attachment> LibbpfLinkAttachment(bpf_link *link) {
  return std::make_unique<LibbpfLink>(link);
}

std::unique_ptr<Attachment> LinkFdAttachment(UniqueFd link) {
  return std::make_unique<LinkFd>(std::move(link));
}

std::unique_ptr<Attachment> MapAttachment(UniqueFd prog, UniqueFd map, bpf_attach_type type) {
  return std::make_unique<ProgToMap>(std::move(prog), std::move(map), type);
}

Napi::Function BpfLink::DefineClass(Napi::Env env) {
  return ObjectWrap<BpfLink>::DefineClass(
      env, "BpfLink",
      {InstanceAccessor<&BpfLink::Id>("id", napi_enumerable),
       InstanceAccessor<&BpfLink::Fd>("fd", napi_enumerable),
       InstanceMethod<&BpfLink::Destroy>("destroy"),
       InstanceMethod<&BpfLink::Disconnect>("disconnect")});
}

Napi::Value BpfLink::New(Napi::Env env, std::unique_ptr<Attachment> attachment, uint32_t id) {
  Napi::Object object = env.GetInstanceData<AddonData>()->linkClass.New({});
  if (env.IsExceptionPending()) return {};
  BpfLink *link = Unwrap(object);
  link->attachment_ = std::move(attachment);
  link->id_ = id;
  return object;
}

BpfLink::BpfLink(const Napi::CallbackInfo &info) : ObjectWrap<BpfLink>(info) {}

Napi::Value BpfLink::Id(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), id_);
}

Napi::Value BpfLink::Fd(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), attachment_ ? attachment_->Fd() : -1);
}

Napi::Value BpfLink::Disconnect(const Napi::CallbackInfo &info) {
  if (attachment_) attachment_->Disconnect();
  return info.Env().Undefined();
}

Napi::Value BpfLink::Destroy(const Napi::CallbackInfo &info) {
  if (!attachment_) return {};
  const std::unique_ptr<Attachment> attachment = std::move(attachment_);
  if (const int err = attachment->Detach(); err != 0) {
    ThrowNativeError(info.Env(), attachment->DetachOp(), err);
  }
  return {};
}

}  // namespace dfs
