// The native half of kprobe-node: a thin layer over libbpf. It loads the
// precompiled generic programs, attaches them, and delivers ring buffer
// records to JavaScript in batches. Everything else lives in lib/.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <napi.h>
#include <unistd.h>

#include <cstddef>

#include "kprobe_node.h"
#include "libbpf_log.h"
#include "object.h"
#include "tracer.h"

namespace {

// Sizes and offsets of the contract as this compiler lays it out; lib/sys/abi.ts
// is tested against them.
Napi::Object Layout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  auto put = [&](const char* name, std::initializer_list<std::pair<const char*, size_t>> fields) {
    Napi::Object s = Napi::Object::New(env);
    for (auto& [k, v] : fields) s.Set(k, static_cast<double>(v));
    o.Set(name, s);
  };
  put("step", {{"size", sizeof(kn_step)}, {"offset", offsetof(kn_step, offset)}, {"user", offsetof(kn_step, user)}});
  put("arg", {{"size", sizeof(kn_arg)},
              {"source", offsetof(kn_arg, source)},
              {"reg", offsetof(kn_arg, reg)},
              {"nsteps", offsetof(kn_arg, nsteps)},
              {"store", offsetof(kn_arg, store)},
              {"size_", offsetof(kn_arg, size)},
              {"flags", offsetof(kn_arg, flags)},
              {"bit_offset", offsetof(kn_arg, bit_offset)},
              {"offset", offsetof(kn_arg, offset)},
              {"bit_size", offsetof(kn_arg, bit_size)},
              {"steps", offsetof(kn_arg, steps)}});
  put("filter", {{"size", sizeof(kn_filter)},
                 {"arg", offsetof(kn_filter, arg)},
                 {"op", offsetof(kn_filter, op)},
                 {"operand", offsetof(kn_filter, operand)},
                 {"str", offsetof(kn_filter, str)}});
  put("config", {{"size", sizeof(kn_config)},
                 {"flags", offsetof(kn_config, flags)},
                 {"pid", offsetof(kn_config, pid)},
                 {"tid", offsetof(kn_config, tid)},
                 {"uid", offsetof(kn_config, uid)},
                 {"comm", offsetof(kn_config, comm)},
                 {"nargs", offsetof(kn_config, nargs)},
                 {"nfilters", offsetof(kn_config, nfilters)},
                 {"count_by", offsetof(kn_config, count_by)},
                 {"gen", offsetof(kn_config, gen)},
                 {"pair", offsetof(kn_config, pair)},
                 {"filters", offsetof(kn_config, filters)},
                 {"args", offsetof(kn_config, args)},
                 {"pidns", offsetof(kn_config, pidns)},
                 {"pidns_dev", offsetof(kn_config, pidns_dev)},
                 {"caller_reg", offsetof(kn_config, caller_reg)},
                 {"caller_deref", offsetof(kn_config, caller_deref)},
                 {"buckets", offsetof(kn_config, buckets)}});
  put("buckets", {{"size", sizeof(kn_buckets)},
                  {"min", offsetof(kn_buckets, min)},
                  {"step", offsetof(kn_buckets, step)},
                  {"count", offsetof(kn_buckets, count)},
                  {"mode", offsetof(kn_buckets, mode)},
                  {"bits", offsetof(kn_buckets, bits)},
                  {"is_signed", offsetof(kn_buckets, is_signed)}});
  put("record", {{"size", sizeof(kn_record)},
                 {"size_", offsetof(kn_record, size)},
                 {"probe_id", offsetof(kn_record, probe_id)},
                 {"ns", offsetof(kn_record, ns)},
                 {"pid", offsetof(kn_record, pid)},
                 {"tid", offsetof(kn_record, tid)},
                 {"uid", offsetof(kn_record, uid)},
                 {"cpu", offsetof(kn_record, cpu)},
                 {"faults", offsetof(kn_record, faults)},
                 {"comm", offsetof(kn_record, comm)},
                 {"host_pid", offsetof(kn_record, host_pid)},
                 {"host_tid", offsetof(kn_record, host_tid)},
                 {"cgroup_id", offsetof(kn_record, cgroup_id)}});
  put("count_key", {{"size", sizeof(kn_count_key)},
                    {"probe_id", offsetof(kn_count_key, probe_id)},
                    {"bucket", offsetof(kn_count_key, bucket)},
                    {"data", offsetof(kn_count_key, data)}});
  put("stack_key", {{"size", sizeof(kn_stack_key)},
                    {"probe_id", offsetof(kn_stack_key, probe_id)},
                    {"pid", offsetof(kn_stack_key, pid)},
                    {"kstack", offsetof(kn_stack_key, kstack)},
                    {"ustack", offsetof(kn_stack_key, ustack)},
                    {"kcaller", offsetof(kn_stack_key, kcaller)},
                    {"ucaller", offsetof(kn_stack_key, ucaller)},
                    {"uentry", offsetof(kn_stack_key, uentry)},
                    {"comm", offsetof(kn_stack_key, comm)}});
  put("stack_count", {{"size", sizeof(kn_stack_count)},
                      {"count", offsetof(kn_stack_count, count)},
                      {"pid", offsetof(kn_stack_count, pid)}});
  Napi::Object c = Napi::Object::New(env);
  c.Set("COOKIE_GEN_SHIFT", KN_COOKIE_GEN_SHIFT);
  c.Set("COMM_LEN", KN_COMM_LEN);
  c.Set("MAX_ARGS", KN_MAX_ARGS);
  c.Set("MAX_STEPS", KN_MAX_STEPS);
  c.Set("MAX_FILTERS", KN_MAX_FILTERS);
  c.Set("MAX_STR", KN_MAX_STR);
  c.Set("DATA_SIZE", KN_DATA_SIZE);
  c.Set("HIST_BUCKETS", KN_HIST_BUCKETS);
  c.Set("MAX_STACK", KN_MAX_STACK);
  c.Set("BUILD_ID_FRAME", KN_BUILD_ID_FRAME);
  c.Set("MAX_BUCKET_BITS", KN_MAX_BUCKET_BITS);
  c.Set("MAX_LINEAR_BUCKETS", KN_MAX_LINEAR_BUCKETS);
  o.Set("constants", c);
  return o;
}

// probeHelper(progType, helperId) -> whether the kernel offers the helper.
Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  auto type = static_cast<bpf_prog_type>(info[0].As<Napi::Number>().Uint32Value());
  auto helper = static_cast<bpf_func_id>(info[1].As<Napi::Number>().Uint32Value());
  kn::LogCapture log;
  return Napi::Boolean::New(info.Env(), libbpf_probe_bpf_helper(type, helper, nullptr) == 1);
}

// probeMapType(mapType) -> whether the kernel can create a map of this type.
Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  auto type = static_cast<bpf_map_type>(info[0].As<Napi::Number>().Uint32Value());
  kn::LogCapture log;
  return Napi::Boolean::New(info.Env(), libbpf_probe_bpf_map_type(type, nullptr) == 1);
}

// probeGlobalFuncPointerArgs() -> whether the verifier accepts a global BPF
// function that takes a pointer to a struct (checked once, not per call site).
// Older kernels refuse it: "Arg#0 type PTR in f() is not supported yet".
Napi::Value ProbeGlobalFuncPointerArgs(const Napi::CallbackInfo& info) {
  kn::LogCapture log;
  bool ok = false;
  btf* types = btf__new_empty();
  if (types == nullptr) return Napi::Boolean::New(info.Env(), false);
  // int main(void *ctx) calls int sub(struct s *p), where struct s { int x; }.
  int int_id = btf__add_int(types, "int", 4, BTF_INT_SIGNED);
  int void_ptr = btf__add_ptr(types, 0);
  int s_id = btf__add_struct(types, "s", 4);
  btf__add_field(types, "x", int_id, 0, 0);
  int s_ptr = btf__add_ptr(types, s_id);
  int main_proto = btf__add_func_proto(types, int_id);
  btf__add_func_param(types, "ctx", void_ptr);
  int main_id = btf__add_func(types, "main", BTF_FUNC_STATIC, main_proto);
  int sub_proto = btf__add_func_proto(types, int_id);
  btf__add_func_param(types, "p", s_ptr);
  int sub_id = btf__add_func(types, "sub", BTF_FUNC_GLOBAL, sub_proto);
  if (main_id > 0 && sub_id > 0 && btf__load_into_kernel(types) == 0) {
    const bpf_insn insns[] = {
        // main: *(u64 *)(r10 - 8) = 0; r0 = sub(r10 - 8); return r0
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 0},
        {BPF_STX | BPF_MEM | BPF_DW, BPF_REG_10, BPF_REG_1, -8, 0},
        {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_10, 0, 0},
        {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, -8},
        {BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
        // sub: return p ? p->x : 0
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 1, 0},
        {BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    const bpf_func_info funcs[] = {{0, static_cast<__u32>(main_id)}, {6, static_cast<__u32>(sub_id)}};
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_btf_fd = static_cast<__u32>(btf__fd(types)), .func_info = funcs,
                .func_info_cnt = 2, .func_info_rec_size = sizeof(bpf_func_info));
    int fd = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "kn_probe", "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts);
    ok = fd >= 0;
    if (fd >= 0) close(fd);
  }
  btf__free(types);
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kn::InstallLibbpfPrinter();
  exports.Set("Tracer", kn::Tracer::Define(env));
  exports.Set("BpfObject", kn::BpfObject::Define(env));
  exports.Set("layout", Layout(env));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("probeGlobalFuncPointerArgs", Napi::Function::New(env, ProbeGlobalFuncPointerArgs));
  exports.Set("libbpfVersion", Napi::String::New(env, std::to_string(libbpf_major_version()) + "." +
                                                          std::to_string(libbpf_minor_version())));
  return exports;
}

}  // namespace

NODE_API_MODULE(kprobe_node, Init)
