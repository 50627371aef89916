// The native half of kprobe-node: a thin layer over libbpf. It loads the
// precompiled generic programs, attaches them, and delivers ring buffer
// records to JavaScript in batches. Everything else lives in lib/.
#include <bpf/libbpf.h>
#include <napi.h>

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
                 {"comm", offsetof(kn_record, comm)}});
  put("count_key", {{"size", sizeof(kn_count_key)},
                    {"probe_id", offsetof(kn_count_key, probe_id)},
                    {"bucket", offsetof(kn_count_key, bucket)},
                    {"data", offsetof(kn_count_key, data)}});
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kn::InstallLibbpfPrinter();
  exports.Set("Tracer", kn::Tracer::Define(env));
  exports.Set("BpfObject", kn::BpfObject::Define(env));
  exports.Set("layout", Layout(env));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper));
  exports.Set("libbpfVersion", Napi::String::New(env, std::to_string(libbpf_major_version()) + "." +
                                                          std::to_string(libbpf_minor_version())));
  return exports;
}

}  // namespace

NODE_API_MODULE(kprobe_node, Init)
