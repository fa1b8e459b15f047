// Owns BpfObject.variables() and setVariable(): the global variables of a data section map
// (.rodata, .data, .bss) as BTF describes them, and writing a `const volatile` value into
// the section's initial value before load. Every write is checked against the variable's
// BTF size and the section's bounds.
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"
#include "object.h"

namespace dfs {
namespace {

struct Variable {
  std::string name;
  uint32_t offset;
  uint32_t size;
};

// The variables of `map`'s DATASEC, or false with errno-like `err` when the map has none.
bool SectionVariables(const bpf_object *object, const bpf_map *map, std::vector<Variable> &out, int &err) {
  const btf *types = bpf_object__btf(object);
  const uint32_t sec = bpf_map__btf_value_type_id(map);
  const btf_type *t = types == nullptr || sec == 0 ? nullptr : btf__type_by_id(types, sec);
  if (t == nullptr || !btf_is_datasec(t)) {
    err = EINVAL;
    return false;
  }
  const btf_var_secinfo *vars = btf_var_secinfos(t);
  for (uint16_t i = 0; i < btf_vlen(t); ++i) {
    const btf_type *var = btf__type_by_id(types, vars[i].type);
    if (var == nullptr) continue;
    const char *name = btf__name_by_offset(types, var->name_off);
    out.push_back({name == nullptr ? "" : name, vars[i].offset, vars[i].size});
  }
  return true;
}

}  // namespace

Napi::Value BpfObject::Variables(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_map *map = FindMap(env, info[0], "variables");
  if (map == nullptr) return {};
  std::vector<Variable> vars;
  int err = 0;
  if (!SectionVariables(object_, map, vars, err)) {
    ThrowNativeError(env, "bpf_map__btf_value_type_id", err,
                     "map '" + std::string(bpf_map__name(map)) + "' is not a data section with BTF");
    return {};
  }
  Napi::Array result = Napi::Array::New(env, vars.size());
  for (size_t i = 0; i < vars.size(); ++i) {
    Napi::Object v = Napi::Object::New(env);
    v.Set("name", vars[i].name);
    v.Set("offset", Napi::Number::New(env, vars[i].offset));
    v.Set("size", Napi::Number::New(env, vars[i].size));
    result.Set(static_cast<uint32_t>(i), v);
  }
  return result;
}

Napi::Value BpfObject::SetVariable(const Napi::CallbackInfo &info) {
  const Napi::Env env = info.Env();
  bpf_map *map = FindMap(env, info[0], "setVariable");
  if (map == nullptr) return {};
  const auto name = StringArg(env, info[1], "variable");
  if (!name) return {};
  const auto value = BufferArg(env, info[2], "value");
  if (!value) return {};
  if (loadCalled_) {
    ThrowNativeError(env, "bpf_map__initial_value", EBUSY, "the object is already loaded");
    return {};
  }
  std::vector<Variable> vars;
  int err = 0;
  if (!SectionVariables(object_, map, vars, err)) {
    ThrowNativeError(env, "bpf_map__btf_value_type_id", err,
                     "map '" + std::string(bpf_map__name(map)) + "' is not a data section with BTF");
    return {};
  }
  const Variable *found = nullptr;
  for (const Variable &v : vars) {
    if (v.name == *name) found = &v;
  }
  if (found == nullptr) {
    ThrowNativeError(env, "setVariable", ENOENT, "no variable '" + *name + "' in " + bpf_map__name(map));
    return {};
  }
  if (value->Length() != found->size) {
    ThrowRangeError(env, "variable '" + *name + "' has " + std::to_string(found->size) +
                             " bytes, the value " + std::to_string(value->Length()));
    return {};
  }
  size_t sectionSize = 0;
  void *data = bpf_map__initial_value(map, &sectionSize);
  if (data == nullptr || uint64_t{found->offset} + found->size > sectionSize) {
    ThrowNativeError(env, "bpf_map__initial_value", EINVAL,
                     "variable '" + *name + "' lies outside its section");
    return {};
  }
  memcpy(static_cast<char *>(data) + found->offset, value->Data(), found->size);
  return env.Undefined();
}

}  // namespace dfs
