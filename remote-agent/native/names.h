// Conversions between the kernel's BPF enums and libbpf's names for them
// ("sock_ops", "sockhash", "cgroup_sock_ops"): libbpf is the single source of
// the names, so the addon and `bpftool` always agree.
#pragma once

#include <linux/bpf.h>

#include <optional>
#include <string>
#include <string_view>

namespace dfs {

std::optional<bpf_prog_type> ProgTypeByName(std::string_view name);
std::optional<bpf_map_type> MapTypeByName(std::string_view name);
std::optional<bpf_attach_type> AttachTypeByName(std::string_view name);

// libbpf's name, or "unknown(N)" for a value newer than this libbpf.
std::string ProgTypeName(bpf_prog_type type);
std::string MapTypeName(bpf_map_type type);

// libbpf's name of a program's expected attach type, or "" when the program has
// none. The kernel has no "none" value: 0 means BPF_CGROUP_INET_INGRESS, which
// only a cgroup_skb program can really expect, so 0 reads as "" for the others.
std::string ExpectedAttachTypeName(bpf_prog_type type, bpf_attach_type attach);

}  // namespace dfs
