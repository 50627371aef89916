// In-kernel stack counting (KN_CFG_STACKS): the stack maps, created when the
// first probe needs them and placed in the object's one-slot outer maps
// `kstacks` and `ustacks`, and the `stack_counts` map that counts hits by
// (probe, task, stack ids). Reading is done here in C++, one call per
// snapshot, so that JavaScript makes no call per entry.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "errors.h"
#include "kprobe_node.h"
#include "tracer.h"

namespace kn {

namespace {

// The stack map in slot 0 of the outer map `outer_fd`, opened; -1 when there is none.
int InnerMap(int outer_fd) {
  uint32_t zero = 0, id = 0;
  if (bpf_map_lookup_elem(outer_fd, &zero, &id) != 0 || id == 0) return -1;
  return bpf_map_get_fd_by_id(id);
}

// Every key of `fd` whose probe_id is `id` (keys start with the probe id).
std::vector<kn_stack_key> KeysOf(int fd, uint32_t id) {
  std::vector<kn_stack_key> out;
  kn_stack_key key = {}, next = {};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (next.probe_id == id) out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

}  // namespace

int Tracer::MapFd(Napi::Env env, const char* name) const {
  bpf_map* map = obj_ ? bpf_object__find_map_by_name(obj_, name) : nullptr;
  if (map == nullptr) throw Napi::Error::New(env, std::string("this tracer has no map ") + name + " (a pinned probe, or an older BPF object)");
  return bpf_map__fd(map);
}

// createStackMaps(entries) -> whether they were created now (false: they exist).
// Each holds `entries` stacks: kernel stacks as addresses, user stacks as build
// id + file offset per frame (BPF_F_STACK_BUILD_ID).
Napi::Value Tracer::CreateStackMaps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  uint32_t entries = info[0].As<Napi::Number>().Uint32Value();
  int kouter = MapFd(env, "kstacks"), uouter = MapFd(env, "ustacks");
  int existing = InnerMap(kouter);
  if (existing >= 0) {
    close(existing);
    return Napi::Boolean::New(env, false);
  }
  LIBBPF_OPTS(bpf_map_create_opts, kopts);
  LIBBPF_OPTS(bpf_map_create_opts, uopts, .map_flags = BPF_F_STACK_BUILD_ID);
  int kfd = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "kn_kstacks", sizeof(uint32_t), KN_MAX_STACK * sizeof(uint64_t), entries, &kopts);
  if (kfd < 0) throw SyscallError(env, "create the kernel stack map", -errno, "");
  int ufd = bpf_map_create(BPF_MAP_TYPE_STACK_TRACE, "kn_ustacks", sizeof(uint32_t), KN_MAX_STACK * KN_BUILD_ID_FRAME, entries, &uopts);
  if (ufd < 0) {
    int e = errno;
    close(kfd);
    throw SyscallError(env, "create the user stack map", -e, "");
  }
  uint32_t zero = 0;
  int err = bpf_map_update_elem(kouter, &zero, &kfd, BPF_ANY) ? -errno : 0;
  if (!err && bpf_map_update_elem(uouter, &zero, &ufd, BPF_ANY)) {
    err = -errno;
    bpf_map_delete_elem(kouter, &zero);
  }
  // The outer maps hold them now.
  close(kfd);
  close(ufd);
  if (err) throw SyscallError(env, "install the stack maps", err, "");
  return Napi::Boolean::New(env, true);
}

// dropStackMaps(): frees the stack maps; the next createStackMaps makes fresh ones.
void Tracer::DropStackMaps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ready(env);
  if (closed_ || obj_ == nullptr) return;
  uint32_t zero = 0;
  bpf_map_delete_elem(MapFd(env, "kstacks"), &zero);
  bpf_map_delete_elem(MapFd(env, "ustacks"), &zero);
}

// stackCounts(probeId) -> { keys: Buffer (struct kn_stack_key each), counts: Float64Array, pids: Uint32Array }
Napi::Value Tracer::StackCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  int fd = MapFd(env, "stack_counts");
  std::vector<kn_stack_key> keys = KeysOf(fd, info[0].As<Napi::Number>().Uint32Value());
  std::vector<uint8_t> bytes;
  std::vector<double> counts;
  std::vector<uint32_t> pids;
  for (const kn_stack_key& k : keys) {
    kn_stack_count v = {};
    if (bpf_map_lookup_elem(fd, &k, &v) != 0) continue;  // deleted meanwhile
    const auto* p = reinterpret_cast<const uint8_t*>(&k);
    bytes.insert(bytes.end(), p, p + sizeof(k));
    counts.push_back(static_cast<double>(v.count));
    pids.push_back(v.pid);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
  auto c = Napi::Float64Array::New(env, counts.size());
  auto p = Napi::Uint32Array::New(env, pids.size());
  for (size_t i = 0; i < counts.size(); i++) {
    c[i] = counts[i];
    p[i] = pids[i];
  }
  out.Set("counts", c);
  out.Set("pids", p);
  return out;
}

// clearStackCounts(probeId): forgets the probe's stack counts.
void Tracer::ClearStackCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ready(env);
  if (closed_ || obj_ == nullptr || bpf_object__find_map_by_name(obj_, "stack_counts") == nullptr) return;
  int fd = MapFd(env, "stack_counts");
  for (const kn_stack_key& k : KeysOf(fd, info[0].As<Napi::Number>().Uint32Value())) bpf_map_delete_elem(fd, &k);
}

// stackTraces(user, ids) -> Array of Buffer (the stack map's value: addresses,
// or build id frames for user stacks, zero after the last frame) or null for
// an id the map does not hold.
Napi::Value Tracer::StackTraces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  bool user = info[0].ToBoolean();
  Napi::Array ids = info[1].As<Napi::Array>();
  Napi::Array out = Napi::Array::New(env, ids.Length());
  int fd = InnerMap(MapFd(env, user ? "ustacks" : "kstacks"));
  size_t size = user ? KN_MAX_STACK * KN_BUILD_ID_FRAME : KN_MAX_STACK * sizeof(uint64_t);
  std::vector<uint8_t> value(size);
  for (uint32_t i = 0; i < ids.Length(); i++) {
    int32_t id = ids.Get(i).As<Napi::Number>().Int32Value();
    if (fd >= 0 && id >= 0 && bpf_map_lookup_elem(fd, &id, value.data()) == 0) {
      out.Set(i, Napi::Buffer<uint8_t>::Copy(env, value.data(), value.size()));
    } else {
      out.Set(i, env.Null());
    }
  }
  if (fd >= 0) close(fd);
  return out;
}

}  // namespace kn
