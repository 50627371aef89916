#include "object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "errors.h"
#include "libbpf_log.h"

namespace kn {

namespace {

uint32_t ToU32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }

// A BPF cookie or address: a bigint, or a number.
uint64_t ToU64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
}

bool PerCpu(bpf_map_type type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

size_t PageRound(size_t n) {
  size_t page = static_cast<size_t>(getpagesize());
  return (n + page - 1) & ~(page - 1);
}

Napi::Buffer<uint8_t> Copy(Napi::Env env, const std::vector<uint8_t>& v, size_t n) {
  return Napi::Buffer<uint8_t>::Copy(env, v.data(), n);
}

}  // namespace

Napi::Function BpfObject::Define(Napi::Env env) {
  return DefineClass(env, "BpfObject",
                     {
                         InstanceMethod<&BpfObject::InitialValue>("initialValue"),
                         InstanceMethod<&BpfObject::SetInitialValue>("setInitialValue"),
                         InstanceMethod<&BpfObject::SetMaxEntries>("setMaxEntries"),
                         InstanceMethod<&BpfObject::SetAutoload>("setAutoload"),
                         InstanceMethod<&BpfObject::Load>("load"),
                         InstanceMethod<&BpfObject::Attach>("attach"),
                         InstanceMethod<&BpfObject::AttachKprobe>("attachKprobe"),
                         InstanceMethod<&BpfObject::AttachKsyscall>("attachKsyscall"),
                         InstanceMethod<&BpfObject::AttachTracepoint>("attachTracepoint"),
                         InstanceMethod<&BpfObject::AttachRawTracepoint>("attachRawTracepoint"),
                         InstanceMethod<&BpfObject::AttachUprobe>("attachUprobe"),
                         InstanceMethod<&BpfObject::Detach>("detach"),
                         InstanceMethod<&BpfObject::Info>("info"),
                         InstanceMethod<&BpfObject::MapInfo>("mapInfo"),
                         InstanceMethod<&BpfObject::Lookup>("lookup"),
                         InstanceMethod<&BpfObject::Update>("update"),
                         InstanceMethod<&BpfObject::Delete>("delete"),
                         InstanceMethod<&BpfObject::NextKey>("nextKey"),
                         InstanceMethod<&BpfObject::Entries>("entries"),
                         InstanceMethod<&BpfObject::ReadGlobal>("readGlobal"),
                         InstanceMethod<&BpfObject::WriteGlobal>("writeGlobal"),
                         InstanceMethod<&BpfObject::OpenReader>("openReader"),
                         InstanceMethod<&BpfObject::CloseReader>("closeReader"),
                         InstanceMethod<&BpfObject::DrainReader>("drainReader"),
                         InstanceMethod<&BpfObject::ReaderLost>("readerLost"),
                         InstanceMethod<&BpfObject::Close>("close"),
                         StaticMethod<&BpfObject::PossibleCpus>("possibleCpus"),
                     });
}

// new BpfObject(image: Buffer, name): opens (parses) the object; nothing reaches the kernel yet.
BpfObject::BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  auto image = info[0].As<Napi::Buffer<uint8_t>>();
  std::string name = info[1].As<Napi::String>();
  image_.assign(image.Data(), image.Data() + image.Length());
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  opts.object_name = name.c_str();
  LogCapture log;
  obj_ = bpf_object__open_mem(image_.data(), image_.size(), &opts);
  if (obj_ == nullptr) throw SyscallError(env, "open BPF object " + name, -errno, log.text());
  napi_add_env_cleanup_hook(env, CleanupHook, this);
}

BpfObject::~BpfObject() {
  if (!closed_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  Release();
}

void BpfObject::CleanupHook(void* arg) { static_cast<BpfObject*>(arg)->Release(); }

// Frees everything; safe to call more than once.
void BpfObject::Release() {
  closed_ = true;
  for (auto& [id, reader] : rings_) reader->Close();
  rings_.clear();
  for (auto& [id, reader] : perfs_) reader->Stop();
  perfs_.clear();
  for (auto& [id, link] : links_) bpf_link__destroy(link);
  links_.clear();
  for (auto& [map, m] : globals_) munmap(m.addr, m.bytes);
  globals_.clear();
  if (obj_ != nullptr) bpf_object__close(obj_);
  obj_ = nullptr;
  std::vector<uint8_t>().swap(image_);
}

void BpfObject::Close(const Napi::CallbackInfo&) {
  if (closed_) return;
  napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  Release();
}

void BpfObject::CheckOpen(Napi::Env env) const {
  if (closed_) throw Napi::Error::New(env, "the BPF object is closed");
}

void BpfObject::CheckLoaded(Napi::Env env) const {
  CheckOpen(env);
  if (!loaded_) throw Napi::Error::New(env, "the BPF object is not loaded");
}

bpf_map* BpfObject::Map(Napi::Env env, const Napi::Value& name) const {
  CheckOpen(env);
  std::string n = name.As<Napi::String>();
  bpf_map* map = bpf_object__find_map_by_name(obj_, n.c_str());
  if (map == nullptr) throw Napi::Error::New(env, "no map " + n);
  return map;
}

bpf_program* BpfObject::Program(Napi::Env env, const Napi::Value& name) const {
  CheckOpen(env);
  std::string n = name.As<Napi::String>();
  bpf_program* prog = bpf_object__find_program_by_name(obj_, n.c_str());
  if (prog == nullptr) throw Napi::Error::New(env, "no program " + n);
  return prog;
}

int BpfObject::MapFd(Napi::Env env, bpf_map* map) const {
  CheckLoaded(env);
  return bpf_map__fd(map);
}

size_t BpfObject::ValueBytes(bpf_map* map) const {
  size_t size = bpf_map__value_size(map);
  if (!PerCpu(bpf_map__type(map))) return size;
  return ((size + 7) & ~static_cast<size_t>(7)) * static_cast<size_t>(libbpf_num_possible_cpus());
}

// ---- before load ------------------------------------------------------------

// initialValue(map) -> a copy of a global data map's initial bytes (.rodata, .data), or null.
Napi::Value BpfObject::InitialValue(const Napi::CallbackInfo& info) {
  bpf_map* map = Map(info.Env(), info[0]);
  size_t size = 0;
  const void* data = bpf_map__initial_value(map, &size);
  if (data == nullptr) return info.Env().Null();
  return Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<const uint8_t*>(data), size);
}

// setInitialValue(map, Buffer of exactly the map's value size)
void BpfObject::SetInitialValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  int err = bpf_map__set_initial_value(map, buf.Data(), buf.Length());
  if (err) throw SyscallError(env, std::string("set the initial value of ") + bpf_map__name(map), err, "");
}

void BpfObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  int err = bpf_map__set_max_entries(map, ToU32(info[1]));
  if (err) throw SyscallError(env, std::string("size the map ") + bpf_map__name(map), err, "");
}

void BpfObject::SetAutoload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_program* prog = Program(env, info[0]);
  int err = bpf_program__set_autoload(prog, info[1].As<Napi::Boolean>());
  if (err) throw SyscallError(env, std::string("set autoload of ") + bpf_program__name(prog), err, "");
}

// load(): CO-RE relocation against the running kernel, maps created, programs verified.
void BpfObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (loaded_) return;
  LogCapture log;
  int err = bpf_object__load(obj_);
  if (err) throw SyscallError(env, "load BPF object " + std::string(bpf_object__name(obj_)), err, log.text());
  loaded_ = true;
}

// ---- programs and links -------------------------------------------------------

Napi::Value BpfObject::AddLink(Napi::Env env, bpf_link* link, const std::string& what, const std::string& log) {
  if (link == nullptr) throw SyscallError(env, what, -errno, log);
  uint32_t id = next_link_++;
  links_[id] = link;
  return Napi::Number::New(env, id);
}

// attach(program) -> link id, where its section says (bpf_program__attach).
Napi::Value BpfObject::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLoaded(env);
  bpf_program* prog = Program(env, info[0]);
  LogCapture log;
  bpf_link* link = bpf_program__attach(prog);
  return AddLink(env, link, std::string("attach ") + bpf_program__name(prog), log.text());
}

// attachKprobe(program, function, retprobe, offset, cookie) -> link id
Napi::Value BpfObject::AttachKprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLoaded(env);
  bpf_program* prog = Program(env, info[0]);
  std::string fn = info[1].As<Napi::String>();
  LIBBPF_OPTS(bpf_kprobe_opts, opts);
  opts.retprobe = info[2].As<Napi::Boolean>();
  opts.offset = ToU32(info[3]);
  opts.bpf_cookie = ToU64(info[4]);
  LogCapture log;
  bpf_link* link = bpf_program__attach_kprobe_opts(prog, fn.c_str(), &opts);
  return AddLink(env, link, std::string(opts.retprobe ? "attach kretprobe " : "attach kprobe ") + fn, log.text());
}

// attachKsyscall(program, syscall, retprobe, cookie) -> link id
Napi::Value BpfObject::AttachKsyscall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLoaded(env);
  bpf_program* prog = Program(env, info[0]);
  std::string name = info[1].As<Napi::String>();
  LIBBPF_OPTS(bpf_ksyscall_opts, opts);
  opts.retprobe = info[2].As<Napi::Boolean>();
  opts.bpf_cookie = ToU64(info[3]);
  LogCapture log;
  bpf_link* link = bpf_program__attach_ksyscall(prog, name.c_str(), &opts);
  return AddLink(env, link, std::string(opts.retprobe ? "attach kretsyscall " : "attach ksyscall ") + name, log.text());
}

// attachTracepoint(program, category, name, cookie) -> link id
Napi::Value BpfObject::AttachTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLoaded(env);
  bpf_program* prog = Program(env, info[0]);
  std::string category = info[1].As<Napi::String>();
  std::string name = info[2].As<Napi::String>();
  LIBBPF_OPTS(bpf_tracepoint_opts, opts);
  opts.bpf_cookie = ToU64(info[3]);
  LogCapture log;
  bpf_link* link = bpf_program__attach_tracepoint_opts(prog, category.c_str(), name.c_str(), &opts);
  return AddLink(env, link, "attach tracepoint " + category + ":" + name, log.text());
}

// attachRawTracepoint(program, name) -> link id
Napi::Value BpfObject::AttachRawTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLoaded(env);
  bpf_program* prog = Program(env, info[0]);
  std::string name = info[1].As<Napi::String>();
  LogCapture log;
  bpf_link* link = bpf_program__attach_raw_tracepoint(prog, name.c_str());
  return AddLink(env, link, "attach raw tracepoint " + name, log.text());
}

// attachUprobe(program, path, fileOffset, retprobe, pid, cookie) -> link id; pid -1: every process.
Napi::Value BpfObject::AttachUprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLoaded(env);
  bpf_program* prog = Program(env, info[0]);
  std::string path = info[1].As<Napi::String>();
  size_t offset = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
  LIBBPF_OPTS(bpf_uprobe_opts, opts);
  opts.retprobe = info[3].As<Napi::Boolean>();
  int pid = info[4].As<Napi::Number>().Int32Value();
  opts.bpf_cookie = ToU64(info[5]);
  LogCapture log;
  bpf_link* link = bpf_program__attach_uprobe_opts(prog, pid, path.c_str(), offset, &opts);
  return AddLink(env, link, std::string(opts.retprobe ? "attach uretprobe " : "attach uprobe ") + path, log.text());
}

void BpfObject::Detach(const Napi::CallbackInfo& info) {
  auto it = links_.find(ToU32(info[0]));
  if (it == links_.end()) return;
  bpf_link__destroy(it->second);
  links_.erase(it);
}

// info() -> kernel ids: { programs: [{ name, id }], maps: [{ name, id }], links: [{ link, id }] }; 0 for what is not loaded.
Napi::Value BpfObject::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array progs = Napi::Array::New(env);
  Napi::Array maps = Napi::Array::New(env);
  Napi::Array links = Napi::Array::New(env);
  o.Set("programs", progs);
  o.Set("maps", maps);
  o.Set("links", links);
  if (closed_) return o;
  auto id_of_prog = [](int fd) -> uint32_t {
    bpf_prog_info pi = {};
    uint32_t len = sizeof(pi);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &pi, &len)) return 0;
    return pi.id;
  };
  auto id_of_map = [](int fd) -> uint32_t {
    bpf_map_info mi = {};
    uint32_t len = sizeof(mi);
    if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &len)) return 0;
    return mi.id;
  };
  uint32_t i = 0;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", bpf_program__name(prog));
    p.Set("id", id_of_prog(bpf_program__fd(prog)));
    progs[i++] = p;
  }
  i = 0;
  bpf_map* map;
  bpf_object__for_each_map(map, obj_) {
    Napi::Object m = Napi::Object::New(env);
    m.Set("name", bpf_map__name(map));
    m.Set("id", loaded_ ? id_of_map(bpf_map__fd(map)) : 0);
    maps[i++] = m;
  }
  i = 0;
  for (auto& [id, link] : links_) {
    bpf_link_info li = {};
    uint32_t len = sizeof(li);
    Napi::Object l = Napi::Object::New(env);
    l.Set("link", id);
    l.Set("id", bpf_obj_get_info_by_fd(bpf_link__fd(link), &li, &len) ? 0 : li.id);
    links[i++] = l;
  }
  return o;
}

// ---- maps ---------------------------------------------------------------------

// mapInfo(map) -> { type, keySize, valueSize, valueBytes, maxEntries, flags }, as libbpf will create it.
Napi::Value BpfObject::MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", static_cast<double>(bpf_map__type(map)));
  o.Set("keySize", bpf_map__key_size(map));
  o.Set("valueSize", bpf_map__value_size(map));
  o.Set("valueBytes", static_cast<double>(ValueBytes(map)));
  o.Set("maxEntries", bpf_map__max_entries(map));
  o.Set("flags", bpf_map__map_flags(map));
  return o;
}

// lookup(map, key) -> the value's bytes, or null when the key is absent.
Napi::Value BpfObject::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  int fd = MapFd(env, map);
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> value(ValueBytes(map));
  if (bpf_map_lookup_elem(fd, key.Data(), value.data()) != 0) {
    if (errno == ENOENT) return env.Null();
    throw SyscallError(env, std::string("look up in map ") + bpf_map__name(map), -errno, "");
  }
  return Copy(env, value, value.size());
}

// update(map, key, value, flags): BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2.
void BpfObject::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  int fd = MapFd(env, map);
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  auto value = info[2].As<Napi::Buffer<uint8_t>>();
  if (value.Length() != ValueBytes(map)) throw Napi::RangeError::New(env, "bad value size");
  if (bpf_map_update_elem(fd, key.Data(), value.Data(), ToU32(info[3])) != 0) {
    throw SyscallError(env, std::string("update map ") + bpf_map__name(map), -errno, "");
  }
}

// delete(map, key) -> whether it was there.
Napi::Value BpfObject::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  int fd = MapFd(env, map);
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  if (bpf_map_delete_elem(fd, key.Data()) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    throw SyscallError(env, std::string("delete from map ") + bpf_map__name(map), -errno, "");
  }
  return Napi::Boolean::New(env, true);
}

// nextKey(map, key | null) -> the key after `key` (the first with null), or null at the end.
Napi::Value BpfObject::NextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  int fd = MapFd(env, map);
  std::vector<uint8_t> next(bpf_map__key_size(map));
  const void* key = info[1].IsNull() ? nullptr : info[1].As<Napi::Buffer<uint8_t>>().Data();
  if (bpf_map_get_next_key(fd, key, next.data()) != 0) {
    if (errno == ENOENT) return env.Null();
    throw SyscallError(env, std::string("iterate over map ") + bpf_map__name(map), -errno, "");
  }
  return Copy(env, next, next.size());
}

// entries(map) -> { keys, values, count, batched }: every entry, read with
// BPF_MAP_LOOKUP_BATCH where the kernel has it for this map, else key by key.
Napi::Value BpfObject::Entries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  int fd = MapFd(env, map);
  const size_t ks = bpf_map__key_size(map);
  const size_t vs = ValueBytes(map);
  std::vector<uint8_t> keys, values;
  size_t count = 0;
  bool batched = true;

  // The kernel's resume token: a bucket index for hashes, a key for arrays.
  std::vector<uint8_t> token(std::max<size_t>(ks, 8)), next_token(token.size());
  uint32_t chunk = std::max<uint32_t>(1, std::min<uint32_t>(bpf_map__max_entries(map), 4096));
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  for (bool first = true;;) {
    keys.resize((count + chunk) * ks);
    values.resize((count + chunk) * vs);
    uint32_t n = chunk;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : token.data(), next_token.data(), keys.data() + count * ks,
                                   values.data() + count * vs, &n, &opts);
    int e = err ? errno : 0;
    if (e == ENOSPC) {
      // One hash bucket holds more entries than fit: ask for more at once.
      chunk *= 2;
      continue;
    }
    if (e != 0 && e != ENOENT) {
      if (!first) throw SyscallError(env, std::string("read map ") + bpf_map__name(map), -e, "");
      batched = false;  // this kernel or map type has no batch operations
      break;
    }
    count += n;
    if (e == ENOENT) break;  // the end
    token.swap(next_token);
    first = false;
  }

  if (!batched) {
    count = 0;
    std::vector<uint8_t> key(ks), next(ks);
    bool have = false;
    while (bpf_map_get_next_key(fd, have ? key.data() : nullptr, next.data()) == 0) {
      keys.resize((count + 1) * ks);
      values.resize((count + 1) * vs);
      // An entry deleted since get_next_key found it is skipped.
      if (bpf_map_lookup_elem(fd, next.data(), values.data() + count * vs) == 0) {
        memcpy(keys.data() + count * ks, next.data(), ks);
        count++;
      }
      key.swap(next);
      have = true;
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", Copy(env, keys, count * ks));
  o.Set("values", Copy(env, values, count * vs));
  o.Set("count", static_cast<double>(count));
  o.Set("batched", batched);
  return o;
}

uint8_t* BpfObject::Globals(Napi::Env env, bpf_map* map, size_t* size) {
  *size = bpf_map__value_size(map);
  auto it = globals_.find(map);
  if (it != globals_.end()) return static_cast<uint8_t*>(it->second.addr);
  if (!(bpf_map__map_flags(map) & BPF_F_MMAPABLE)) return nullptr;
  int prot = (bpf_map__map_flags(map) & BPF_F_RDONLY_PROG) ? PROT_READ : PROT_READ | PROT_WRITE;
  size_t bytes = PageRound(*size);
  void* m = mmap(nullptr, bytes, prot, MAP_SHARED, MapFd(env, map), 0);
  if (m == MAP_FAILED) throw SyscallError(env, std::string("map the global data ") + bpf_map__name(map), -errno, "");
  globals_[map] = {m, bytes};
  return static_cast<uint8_t*>(m);
}

// readGlobal(map, offset, size) -> a copy of bytes of a loaded global data map (.data, .bss, .rodata).
Napi::Value BpfObject::ReadGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  CheckLoaded(env);
  size_t offset = ToU32(info[1]), n = ToU32(info[2]), size = 0;
  uint8_t* base = Globals(env, map, &size);
  if (offset + n > size) throw Napi::RangeError::New(env, "read past the global data");
  if (base != nullptr) return Napi::Buffer<uint8_t>::Copy(env, base + offset, n);
  // Not mmapable (a kernel before 5.5): the whole value, by key 0.
  std::vector<uint8_t> value(size);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(map), &zero, value.data()) != 0) {
    throw SyscallError(env, std::string("read the global data ") + bpf_map__name(map), -errno, "");
  }
  return Napi::Buffer<uint8_t>::Copy(env, value.data() + offset, n);
}

// writeGlobal(map, offset, bytes): writes into a loaded .data or .bss.
void BpfObject::WriteGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  CheckLoaded(env);
  size_t offset = ToU32(info[1]), size = 0;
  auto bytes = info[2].As<Napi::Buffer<uint8_t>>();
  uint8_t* base = Globals(env, map, &size);
  if (offset + bytes.Length() > size) throw Napi::RangeError::New(env, "write past the global data");
  if (base != nullptr) {
    memcpy(base + offset, bytes.Data(), bytes.Length());
    return;
  }
  std::vector<uint8_t> value(size);
  uint32_t zero = 0;
  int fd = bpf_map__fd(map);
  if (bpf_map_lookup_elem(fd, &zero, value.data()) != 0 ||
      (memcpy(value.data() + offset, bytes.Data(), bytes.Length()), bpf_map_update_elem(fd, &zero, value.data(), BPF_ANY)) != 0) {
    throw SyscallError(env, std::string("write the global data ") + bpf_map__name(map), -errno, "");
  }
}

// ---- readers ------------------------------------------------------------------

// openReader(map, 'ring' | 'perf', onBatch, onError, { drainMs, batchBytes, pages }) -> reader id.
// A ring buffer is read as the project's own is (RingReader: onBatch(buffer,
// length), the records behind their ring headers, in a reused buffer); a perf
// event array by libbpf's perf buffer (PerfReader: onBatch(buffer)).
Napi::Value BpfObject::OpenReader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_map* map = Map(env, info[0]);
  int fd = MapFd(env, map);
  std::string kind = info[1].As<Napi::String>();
  Napi::Object o = info[4].As<Napi::Object>();
  uint32_t id = next_reader_++;
  if (kind == "ring") {
    auto reader = std::make_unique<RingReader>();
    int err = reader->Open(fd);
    if (err) throw SyscallError(env, std::string("read the ring buffer ") + bpf_map__name(map), err, "");
    reader->Start(env, info[2].As<Napi::Function>(), info[3].As<Napi::Function>(), ToU32(o.Get("drainMs")),
                  Napi::Buffer<uint8_t>::New(env, ToU32(o.Get("batchBytes"))));
    rings_[id] = std::move(reader);
    return Napi::Number::New(env, id);
  }
  PerfReader::Options opts{fd, ToU32(o.Get("drainMs")), ToU32(o.Get("batchBytes")), ToU32(o.Get("pages"))};
  auto reader = std::make_shared<PerfReader>(env, opts, info[2].As<Napi::Function>());
  reader->self_ = reader;
  reader->Start();
  perfs_[id] = reader;
  return Napi::Number::New(env, id);
}

void BpfObject::CloseReader(const Napi::CallbackInfo& info) {
  uint32_t id = ToU32(info[0]);
  if (auto r = rings_.find(id); r != rings_.end()) r->second->Close();
  if (auto p = perfs_.find(id); p != perfs_.end()) {
    p->second->Stop();
    perfs_.erase(p);
  }
}

// drainReader(id) -> bytes delivered: what is ready now, synchronously.
Napi::Value BpfObject::DrainReader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = ToU32(info[0]);
  if (auto r = rings_.find(id); r != rings_.end()) return Napi::Number::New(env, static_cast<double>(r->second->Drain(env)));
  auto it = perfs_.find(id);
  if (it == perfs_.end()) return Napi::Number::New(env, 0);
  std::shared_ptr<PerfReader> reader = it->second;
  return Napi::Number::New(env, static_cast<double>(reader->Drain(env)));
}

// readerLost(id) -> records the kernel dropped so far (perf buffers; a ring
// buffer's losses are what its program counts).
Napi::Value BpfObject::ReaderLost(const Napi::CallbackInfo& info) {
  auto it = perfs_.find(ToU32(info[0]));
  return Napi::Number::New(info.Env(), it == perfs_.end() ? 0 : static_cast<double>(it->second->lost()));
}

// BpfObject.possibleCpus() -> how many values a per-CPU map holds per key.
Napi::Value BpfObject::PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) throw SyscallError(info.Env(), "count the possible CPUs", n, "");
  return Napi::Number::New(info.Env(), n);
}

}  // namespace kn
