// Owns the enum <-> name lookups over libbpf_bpf_*_type_str().
#include "names.h"

#include <bpf/libbpf.h>

namespace dfs {
namespace {

// libbpf's name tables are dense arrays indexed by the enum value, and its
// *_str() functions return NULL just past the last entry, so a scan from 0
// until NULL visits every value this libbpf knows.
template <typename Enum>
std::optional<Enum> EnumByName(const char *(*nameOf)(Enum), std::string_view name) {
  for (int value = 0;; ++value) {
    const char *candidate = nameOf(static_cast<Enum>(value));
    if (candidate == nullptr) return std::nullopt;
    if (name == candidate) return static_cast<Enum>(value);
  }
}

std::string NameOrNumber(const char *name, int value) {
  return name != nullptr ? name : "unknown(" + std::to_string(value) + ")";
}

}  // namespace

std::optional<bpf_prog_type> ProgTypeByName(std::string_view name) {
  return EnumByName(libbpf_bpf_prog_type_str, name);
}

std::optional<bpf_map_type> MapTypeByName(std::string_view name) {
  return EnumByName(libbpf_bpf_map_type_str, name);
}

std::optional<bpf_attach_type> AttachTypeByName(std::string_view name) {
  return EnumByName(libbpf_bpf_attach_type_str, name);
}

std::string ProgTypeName(bpf_prog_type type) {
  return NameOrNumber(libbpf_bpf_prog_type_str(type), type);
}

std::string MapTypeName(bpf_map_type type) {
  return NameOrNumber(libbpf_bpf_map_type_str(type), type);
}

std::string ExpectedAttachTypeName(bpf_prog_type type, bpf_attach_type attach) {
  if (attach == 0 && type != BPF_PROG_TYPE_CGROUP_SKB) return "";
  return NameOrNumber(libbpf_bpf_attach_type_str(attach), attach);
}

}  // namespace dfs
