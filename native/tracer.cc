#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"
#include "kprobe_node.h"
#include "libbpf_log.h"

namespace kn {

namespace {

// Finds a `const volatile` global's bytes in .rodata before load.
void* RodataVariable(bpf_object* obj, const char* name, size_t size) {
  const btf* btf = bpf_object__btf(obj);
  if (btf == nullptr) return nullptr;
  int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
  if (sec_id < 0) return nullptr;
  bpf_map* rodata = nullptr;
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    const char* n = bpf_map__name(map);
    size_t len = strlen(n);
    if (len >= 7 && strcmp(n + len - 7, ".rodata") == 0) rodata = map;
  }
  if (rodata == nullptr) return nullptr;
  size_t data_size = 0;
  auto* data = static_cast<uint8_t*>(const_cast<void*>(static_cast<const void*>(bpf_map__initial_value(rodata, &data_size))));
  const btf_type* sec = btf__type_by_id(btf, sec_id);
  const btf_var_secinfo* vars = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++) {
    const btf_type* var = btf__type_by_id(btf, vars[i].type);
    if (strcmp(btf__name_by_offset(btf, var->name_off), name) == 0 && vars[i].size == size &&
        vars[i].offset + size <= data_size) {
      return data + vars[i].offset;
    }
  }
  return nullptr;
}

uint32_t ToU32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }

// Sets the .rodata globals every copy of the object shares: the wake-up
// threshold, and this process's tgid (which KN_CFG_NOT_SELF drops). False
// when the object lacks one of them.
bool SetRodata(bpf_object* obj, uint32_t wakeup_bytes) {
  auto* wakeup = static_cast<uint32_t*>(RodataVariable(obj, "wakeup_bytes", sizeof(uint32_t)));
  auto* self = static_cast<uint32_t*>(RodataVariable(obj, "self_tgid", sizeof(uint32_t)));
  if (wakeup == nullptr || self == nullptr) return false;
  *wakeup = wakeup_bytes;
  *self = static_cast<uint32_t>(getpid());
  return true;
}

}  // namespace

Napi::Function Tracer::Define(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {
                         InstanceMethod<&Tracer::AttachKprobe>("attachKprobe"),
                         InstanceMethod<&Tracer::AttachKprobeMulti>("attachKprobeMulti"),
                         InstanceMethod<&Tracer::AttachTracepoint>("attachTracepoint"),
                         InstanceMethod<&Tracer::AttachUprobe>("attachUprobe"),
                         InstanceMethod<&Tracer::AttachPerfEvent>("attachPerfEvent"),
                         InstanceMethod<&Tracer::Detach>("detach"),
                         InstanceMethod<&Tracer::HandOff>("handOff"),
                         InstanceMethod<&Tracer::SetConfig>("setConfig"),
                         InstanceMethod<&Tracer::SetCgroup>("setCgroup"),
                         InstanceMethod<&Tracer::Lost>("lost"),
                         InstanceMethod<&Tracer::Hist>("hist"),
                         InstanceMethod<&Tracer::HistSum>("histSum"),
                         InstanceMethod<&Tracer::ResetHist>("resetHist"),
                         InstanceMethod<&Tracer::Counts>("counts"),
                         InstanceMethod<&Tracer::ClearCounts>("clearCounts"),
                         InstanceMethod<&Tracer::CreateStackMaps>("createStackMaps"),
                         InstanceMethod<&Tracer::DropStackMaps>("dropStackMaps"),
                         InstanceMethod<&Tracer::StackCounts>("stackCounts"),
                         InstanceMethod<&Tracer::ClearStackCounts>("clearStackCounts"),
                         InstanceMethod<&Tracer::StackTraces>("stackTraces"),
                         InstanceMethod<&Tracer::Start>("start"),
                         InstanceMethod<&Tracer::Stop>("stop"),
                         InstanceMethod<&Tracer::SetRef>("ref"),
                         InstanceMethod<&Tracer::Drain>("drain"),
                         InstanceMethod<&Tracer::Info>("info"),
                         InstanceMethod<&Tracer::WaitReady>("ready"),
                         InstanceMethod<&Tracer::Close>("close"),
                         InstanceMethod<&Tracer::Pin>("pin"),
                     });
}

// Maps an mmapable array map shared with the kernel.
static void* MapArray(bpf_map* map, size_t bytes, int prot) {
  void* m = mmap(nullptr, bytes, prot, MAP_SHARED, bpf_map__fd(map), 0);
  return m == MAP_FAILED ? nullptr : m;
}

static size_t PageRound(size_t n) {
  size_t page = static_cast<size_t>(getpagesize());
  return (n + page - 1) & ~(page - 1);
}

// new Tracer(objectPath, { maxProbes, ringBytes, wakeupBytes, maxCounts, programs, background? })
// `programs`: the programs to load with the object (the first probe's); others load on first use.
// `background`: load on a thread of its own; the first method call waits for it.
Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[1].As<Napi::Object>();
  max_probes_ = ToU32(opts.Get("maxProbes"));
  if (opts.Has("pinned") && opts.Get("pinned").IsString()) {
    OpenPinned(env, opts.Get("pinned").As<Napi::String>());
    return;
  }
  config_size_ = sizeof(kn_config);
  LoadRequest req{info[0].As<Napi::String>(), ToU32(opts.Get("ringBytes")), ToU32(opts.Get("wakeupBytes")),
                  ToU32(opts.Get("maxCounts")), {}};
  Napi::Array programs = opts.Get("programs").As<Napi::Array>();
  for (uint32_t i = 0; i < programs.Length(); i++) req.programs.push_back(programs.Get(i).As<Napi::String>());
  napi_add_env_cleanup_hook(env, CleanupHook, this);
  if (opts.Get("background").ToBoolean()) {
    loader_ = std::thread([this, req]() { Load(req); });
  } else {
    Load(req);
    Ready(env);
  }
}

void Tracer::Load(const LoadRequest& req) {
  LogCapture log;
  auto fail = [&](const std::string& op, int err, const std::string& text) { failure_ = LoadFailure{op, err, text}; };
  obj_ = bpf_object__open_file(req.path.c_str(), nullptr);
  if (obj_ == nullptr) return fail("open BPF object " + req.path, -errno, log.text());

  bpf_map* ring = bpf_object__find_map_by_name(obj_, "events");
  bpf_map* configs = bpf_object__find_map_by_name(obj_, "configs");
  bpf_map* lost = bpf_object__find_map_by_name(obj_, "lost");
  bpf_map* hists = bpf_object__find_map_by_name(obj_, "hists");
  bpf_map* sums = bpf_object__find_map_by_name(obj_, "hist_sums");
  bpf_map* counts = bpf_object__find_map_by_name(obj_, "counts");
  bpf_map* reader = bpf_object__find_map_by_name(obj_, "reader");
  bpf_map* cgroups = bpf_object__find_map_by_name(obj_, "cgroups");
  if (!bpf_object__find_program_by_name(obj_, "kn_kprobe") || !bpf_object__find_program_by_name(obj_, "kn_tracepoint") ||
      !ring || !configs || !lost || !hists || !sums || !counts || !reader || !cgroups || !SetRodata(obj_, req.wakeup_bytes)) {
    return fail("BPF object " + req.path + " lacks the expected programs or maps", -EINVAL, "");
  }
  path_ = req.path;
  wakeup_bytes_ = req.wakeup_bytes;
  // Only the programs asked for are verified now (kn_kprobe_multi never is:
  // kernels before 5.18 reject its attach type at load).
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    bool wanted = false;
    for (const std::string& name : req.programs) wanted = wanted || name == bpf_program__name(prog);
    bpf_program__set_autoload(prog, wanted);
  }
  int err = bpf_map__set_max_entries(ring, req.ring_bytes);
  if (!err) err = bpf_map__set_max_entries(configs, max_probes_);
  if (!err) err = bpf_map__set_max_entries(lost, max_probes_);
  if (!err) err = bpf_map__set_max_entries(cgroups, max_probes_);
  if (!err) err = bpf_map__set_max_entries(hists, max_probes_ * KN_HIST_BUCKETS);
  if (!err) err = bpf_map__set_max_entries(sums, max_probes_);
  if (!err) err = bpf_map__set_max_entries(counts, req.max_counts);
  // Stack counts share the count maps' size (objects built before them have none).
  bpf_map* stack_counts = bpf_object__find_map_by_name(obj_, "stack_counts");
  if (!err && stack_counts) err = bpf_map__set_max_entries(stack_counts, req.max_counts);
  if (!err) err = bpf_object__load(obj_);
  if (err) return fail("load BPF programs", err, log.text());

  configs_fd_ = bpf_map__fd(configs);
  counts_fd_ = bpf_map__fd(counts);
  cgroups_fd_ = bpf_map__fd(cgroups);
  lost_bytes_ = PageRound(static_cast<size_t>(max_probes_) * sizeof(uint64_t));
  lost_ = static_cast<const volatile uint64_t*>(MapArray(lost, lost_bytes_, PROT_READ));
  hists_bytes_ = PageRound(static_cast<size_t>(max_probes_) * KN_HIST_BUCKETS * sizeof(uint64_t));
  hists_ = static_cast<volatile uint64_t*>(MapArray(hists, hists_bytes_, PROT_READ | PROT_WRITE));
  sums_ = static_cast<volatile uint64_t*>(MapArray(sums, lost_bytes_, PROT_READ | PROT_WRITE));
  if (lost_ == nullptr || hists_ == nullptr || sums_ == nullptr) return fail("map the kernel's counters", -errno, "");

  err = OpenRing(bpf_map__fd(ring), bpf_map__fd(reader));
  if (err) return fail("map the ring buffer", err, "");
}

int Tracer::OpenRing(int ring_fd, int reader_fd) {
  int err = ring_.Open(ring_fd);
  if (err || reader_fd < 0) return err;
  void* m = mmap(nullptr, static_cast<size_t>(getpagesize()), PROT_READ | PROT_WRITE, MAP_SHARED, reader_fd, 0);
  if (m == MAP_FAILED) return -errno;
  reader_ = static_cast<volatile uint64_t*>(m);
  ring_.SetAsleepFlag(reader_);
  return 0;
}

void Tracer::Ready(Napi::Env env) {
  if (loader_.joinable()) loader_.join();
  if (!failure_) return;
  LoadFailure f = std::move(*failure_);
  failure_.reset();
  napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  Release();
  throw SyscallError(env, f.op, f.err, f.log);
}

void Tracer::CheckOpen(Napi::Env env) {
  Ready(env);
  if (closed_) throw Napi::Error::New(env, "the tracer is closed");
}

Tracer::~Tracer() {
  if (!closed_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  Release();
}

void Tracer::CleanupHook(void* arg) { static_cast<Tracer*>(arg)->Release(); }

// Frees everything; safe to call more than once.
void Tracer::Release() {
  if (loader_.joinable()) loader_.join();
  closed_ = true;
  ring_.Close();
  for (auto& [id, link] : links_) bpf_link__destroy(link);
  links_.clear();
  for (bpf_object* copy : copies_) bpf_object__close(copy);
  copies_.clear();
  for (auto& [name, copy] : lazy_) bpf_object__close(copy);
  lazy_.clear();
  if (reader_) munmap(const_cast<uint64_t*>(reader_), static_cast<size_t>(getpagesize()));
  reader_ = nullptr;
  if (lost_) munmap(const_cast<uint64_t*>(lost_), lost_bytes_);
  lost_ = nullptr;
  if (hists_) munmap(const_cast<uint64_t*>(hists_), hists_bytes_);
  hists_ = nullptr;
  if (sums_) munmap(const_cast<uint64_t*>(sums_), lost_bytes_);
  sums_ = nullptr;
  if (obj_) bpf_object__close(obj_);
  for (int fd : pinned_fds_) close(fd);
  pinned_fds_.clear();
  obj_ = nullptr;
}

Napi::Value Tracer::AddLink(Napi::Env env, bpf_link* link, const char* what, const std::string& log) {
  if (link == nullptr) throw SyscallError(env, what, -errno, log);
  uint32_t id = next_link_++;
  links_[id] = link;
  return Napi::Number::New(env, id);
}

// A tracer opened on a pinned probe's maps has no programs to attach.
static void CheckPrograms(Napi::Env env, bpf_object* obj) {
  if (obj == nullptr) throw Napi::Error::New(env, "this tracer reads a pinned probe; it cannot attach");
}

// attachKprobe(function, retprobe, cookie, offset) -> link id
Napi::Value Tracer::AttachKprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  CheckPrograms(env, obj_);
  std::string fn = info[0].As<Napi::String>();
  LIBBPF_OPTS(bpf_kprobe_opts, opts);
  opts.retprobe = info[1].As<Napi::Boolean>();
  opts.bpf_cookie = ToU32(info[2]);
  opts.offset = ToU32(info[3]);
  LogCapture log;
  bpf_link* link = bpf_program__attach_kprobe_opts(Program(env, "kn_kprobe"), fn.c_str(), &opts);
  return AddLink(env, link, opts.retprobe ? "attach kretprobe" : "attach kprobe", log.text());
}

// Loads the object again with only the program `name`, on the maps of the
// first: the copy reads the same configs and writes to the same ring.
bpf_object* Tracer::CopyObject(Napi::Env env, const char* name) {
  LogCapture log;
  bpf_object* copy = bpf_object__open_file(path_.c_str(), nullptr);
  if (copy == nullptr) throw SyscallError(env, "open BPF object " + path_, -errno, log.text());
  int err = 0;
  bpf_map* map;
  bpf_object__for_each_map(map, copy) {
    const char* name = bpf_map__name(map);
    if (strchr(name, '.') != nullptr) continue;  // .rodata and friends: the copy's own
    bpf_map* shared = bpf_object__find_map_by_name(obj_, name);
    if (shared != nullptr && !err) err = bpf_map__reuse_fd(map, bpf_map__fd(shared));
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, copy) {
    bpf_program__set_autoload(prog, strcmp(bpf_program__name(prog), name) == 0);
  }
  SetRodata(copy, wakeup_bytes_);
  if (!err) err = bpf_object__load(copy);
  if (err) {
    bpf_object__close(copy);
    throw SyscallError(env, std::string("load a copy of the program ") + name, err, log.text());
  }
  return copy;
}

bpf_program* Tracer::Loaded(const char* name) const {
  bpf_program* own = obj_ ? bpf_object__find_program_by_name(obj_, name) : nullptr;
  if (own != nullptr && bpf_program__fd(own) >= 0) return own;
  auto it = lazy_.find(name);
  return it == lazy_.end() ? nullptr : bpf_object__find_program_by_name(it->second, name);
}

bpf_program* Tracer::Program(Napi::Env env, const char* name) {
  if (bpf_program* p = Loaded(name)) return p;
  return bpf_object__find_program_by_name(lazy_.emplace(name, CopyObject(env, name)).first->second, name);
}

// attachKprobeMulti(functions, cookies, retprobe) -> link id: one kprobe_multi
// link over every function, each with its cookie. Fails as a whole (EOPNOTSUPP
// on kernels without fprobe); the caller then attaches one kprobe per function.
Napi::Value Tracer::AttachKprobeMulti(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  CheckPrograms(env, obj_);
  Napi::Array fns = info[0].As<Napi::Array>();
  Napi::Array cookies = info[1].As<Napi::Array>();
  std::vector<std::string> names;
  std::vector<const char*> syms;
  std::vector<__u64> cookie_values;
  for (uint32_t i = 0; i < fns.Length(); i++) names.push_back(fns.Get(i).As<Napi::String>());
  for (auto& n : names) syms.push_back(n.c_str());
  for (uint32_t i = 0; i < cookies.Length(); i++) cookie_values.push_back(ToU32(cookies.Get(i)));
  if (syms.empty() || syms.size() != cookie_values.size()) throw Napi::RangeError::New(env, "bad kprobe_multi arguments");
  bpf_program* prog = Program(env, "kn_kprobe_multi");
  LIBBPF_OPTS(bpf_kprobe_multi_opts, opts);
  opts.syms = syms.data();
  opts.cookies = cookie_values.data();
  opts.cnt = syms.size();
  opts.retprobe = info[2].As<Napi::Boolean>();
  LogCapture log;
  bpf_link* link = bpf_program__attach_kprobe_multi_opts(prog, nullptr, &opts);
  return AddLink(env, link, opts.retprobe ? "attach kretprobe_multi" : "attach kprobe_multi", log.text());
}

// attachTracepoint(category, name, cookie) -> link id
Napi::Value Tracer::AttachTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  CheckPrograms(env, obj_);
  std::string category = info[0].As<Napi::String>();
  std::string name = info[1].As<Napi::String>();
  LIBBPF_OPTS(bpf_tracepoint_opts, opts);
  opts.bpf_cookie = ToU32(info[2]);
  LogCapture log;
  bpf_link* link = bpf_program__attach_tracepoint_opts(Program(env, "kn_tracepoint"), category.c_str(), name.c_str(), &opts);
  // EEXIST: the program is on this tracepoint already; try the copies, then a new one.
  for (size_t i = 0; link == nullptr && errno == EEXIST && i <= copies_.size(); i++) {
    if (i == copies_.size()) copies_.push_back(CopyObject(env, "kn_tracepoint"));
    bpf_program* prog = bpf_object__find_program_by_name(copies_[i], "kn_tracepoint");
    link = bpf_program__attach_tracepoint_opts(prog, category.c_str(), name.c_str(), &opts);
  }
  return AddLink(env, link, "attach tracepoint", log.text());
}

// attachUprobe(path, offset, retprobe, pid, cookie) -> link id; pid -1 means every process.
Napi::Value Tracer::AttachUprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  CheckPrograms(env, obj_);
  std::string path = info[0].As<Napi::String>();
  size_t offset = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  LIBBPF_OPTS(bpf_uprobe_opts, opts);
  opts.retprobe = info[2].As<Napi::Boolean>();
  int pid = info[3].As<Napi::Number>().Int32Value();
  opts.bpf_cookie = ToU32(info[4]);
  LogCapture log;
  bpf_link* link = bpf_program__attach_uprobe_opts(Program(env, "kn_kprobe"), pid, path.c_str(), offset, &opts);
  return AddLink(env, link, opts.retprobe ? "attach uretprobe" : "attach uprobe", log.text());
}

// attachPerfEvent(cpu, rate, frequency, cookie) -> link id: a CPU-clock perf
// event on one CPU (every task that runs there), sampling `rate` times a
// second (frequency true) or every `rate` ns of CPU time, running
// kn_perf_event at each sample.
Napi::Value Tracer::AttachPerfEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  CheckPrograms(env, obj_);
  int cpu = info[0].As<Napi::Number>().Int32Value();
  perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.freq = info[2].As<Napi::Boolean>() ? 1 : 0;
  attr.sample_period = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());  // sample_freq shares it
  attr.disabled = 1;  // libbpf enables it once the program is attached
  LIBBPF_OPTS(bpf_perf_event_opts, opts);
  opts.bpf_cookie = ToU32(info[3]);
  bpf_program* prog = Program(env, "kn_perf_event");
  int fd = static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) throw SyscallError(env, "open a CPU-clock perf event on CPU " + std::to_string(cpu), -errno, "");
  LogCapture log;
  bpf_link* link = bpf_program__attach_perf_event_opts(prog, fd, &opts);
  if (link == nullptr) {
    int e = errno;
    close(fd);  // the link owns it only once attached
    errno = e;
  }
  return AddLink(env, link, "attach to a perf event", log.text());
}

void Tracer::Detach(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  auto it = links_.find(ToU32(info[0]));
  if (it == links_.end()) return;
  bpf_link__destroy(it->second);
  links_.erase(it);
}

// handOff([linkId...]) -> whether the links were handed off. Detaching a
// tracepoint or kprobe waits for RCU grace periods (~50-100 ms) in the
// closing thread. Here each link's fd is first registered with a fresh
// io_uring, whose file table then holds the last reference; the links are
// then destroyed (libbpf disables their perf events) and the ring closed, at
// once: the kernel tears the ring down in a worker, which frees the links
// there. false (nothing done): io_uring is unavailable (old kernel, seccomp).
Napi::Value Tracer::HandOff(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Ready(env);
  Napi::Array ids = info[0].As<Napi::Array>();
  std::vector<int> fds;
  std::vector<uint32_t> mine;
  for (uint32_t i = 0; i < ids.Length(); i++) {
    auto it = links_.find(ToU32(ids.Get(i)));
    if (it == links_.end()) continue;
    fds.push_back(bpf_link__fd(it->second));
    mine.push_back(it->first);
  }
  if (fds.empty()) return Napi::Boolean::New(env, true);
  io_uring_params params = {};
  int ring = static_cast<int>(syscall(__NR_io_uring_setup, 1, &params));
  if (ring < 0) return Napi::Boolean::New(env, false);
  bool held = syscall(__NR_io_uring_register, ring, IORING_REGISTER_FILES, fds.data(), fds.size()) == 0;
  if (held) {
    for (uint32_t id : mine) {
      bpf_link__destroy(links_[id]);
      links_.erase(id);
    }
  }
  close(ring);
  return Napi::Boolean::New(env, held);
}

// setConfig(probeId, Buffer holding a struct kn_config)
void Tracer::SetConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  uint32_t id = ToU32(info[0]);
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  if (buf.Length() != config_size_ || id >= max_probes_) throw Napi::RangeError::New(env, "bad probe config");
  if (bpf_map_update_elem(configs_fd_, &id, buf.Data(), BPF_ANY)) {
    throw SyscallError(env, "update the probe config", -errno, "");
  }
}

// lost(probeId) -> records the kernel could not reserve for that probe so far
Napi::Value Tracer::Lost(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  uint32_t id = ToU32(info[0]);
  uint64_t n = (lost_ != nullptr && id < max_probes_) ? lost_[id] : 0;
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// hist(probeId) -> Float64Array of KN_HIST_BUCKETS counts, read from the shared mapping.
Napi::Value Tracer::Hist(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  Napi::Env env = info.Env();
  uint32_t id = ToU32(info[0]);
  auto out = Napi::Float64Array::New(env, KN_HIST_BUCKETS);
  if (hists_ != nullptr && id < max_probes_) {
    for (int b = 0; b < KN_HIST_BUCKETS; b++) out[b] = static_cast<double>(hists_[id * KN_HIST_BUCKETS + b]);
  }
  return out;
}

// histSum(probeId) -> BigInt: the sum of the values in the probe's histogram, as the kernel's u64.
Napi::Value Tracer::HistSum(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  uint32_t id = ToU32(info[0]);
  uint64_t sum = (sums_ != nullptr && id < max_probes_) ? sums_[id] : 0;
  return Napi::BigInt::New(info.Env(), sum);
}

void Tracer::ResetHist(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  uint32_t id = ToU32(info[0]);
  if (hists_ == nullptr || sums_ == nullptr || id >= max_probes_) return;
  for (int b = 0; b < KN_HIST_BUCKETS; b++) __atomic_store_n(&hists_[id * KN_HIST_BUCKETS + b], 0, __ATOMIC_RELAXED);
  __atomic_store_n(&sums_[id], 0, __ATOMIC_RELAXED);
}

// The probe ids of a JS array, as a set.
static std::vector<bool> IdSet(const Napi::Array& ids, uint32_t max) {
  std::vector<bool> set(max, false);
  for (uint32_t i = 0; i < ids.Length(); i++) {
    uint32_t id = ToU32(ids.Get(i));
    if (id < max) set[id] = true;
  }
  return set;
}

// counts([probeId...]) -> { keys: Buffer of struct kn_count_key, values: Float64Array }:
// the entries of those probes (the parts of one probe). The map is read in
// batches (BPF_MAP_LOOKUP_BATCH, Linux 5.6, below the ring buffer's 5.8): a
// few syscalls for the whole map instead of two per key.
Napi::Value Tracer::Counts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  std::vector<bool> ids = IdSet(info[0].As<Napi::Array>(), max_probes_);
  std::vector<uint8_t> keys;
  std::vector<double> values;
  uint32_t room = 1024;
  std::vector<kn_count_key> batch_keys(room);
  std::vector<uint64_t> batch_values(room);
  kn_count_key token = {};  // where the next batch starts (hash maps use its first 4 bytes)
  bool first = true;
  for (;;) {
    uint32_t n = room;
    int err = bpf_map_lookup_batch(counts_fd_, first ? nullptr : &token, &token, batch_keys.data(), batch_values.data(), &n, nullptr);
    if (err && errno == ENOSPC && n == 0) {
      // One hash bucket holds more keys than `room`: retry it with more.
      room *= 2;
      batch_keys.resize(room);
      batch_values.resize(room);
      continue;
    }
    if (err && errno != ENOENT) throw SyscallError(env, "read the count map", -errno, "");
    for (uint32_t i = 0; i < n; i++) {
      const kn_count_key& k = batch_keys[i];
      if (k.probe_id >= max_probes_ || !ids[k.probe_id]) continue;
      auto* bytes = reinterpret_cast<const uint8_t*>(&k);
      keys.insert(keys.end(), bytes, bytes + sizeof(k));
      values.push_back(static_cast<double>(batch_values[i]));
    }
    if (err) break;  // ENOENT: that was the last batch
    first = false;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), keys.size()));
  auto arr = Napi::Float64Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); i++) arr[i] = values[i];
  out.Set("values", arr);
  return out;
}

// clearCounts([probeId...]): forgets those probes' counts.
void Tracer::ClearCounts(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  if (closed_) return;
  std::vector<bool> ids = IdSet(info[0].As<Napi::Array>(), max_probes_);
  std::vector<kn_count_key> mine;
  kn_count_key key = {}, next = {};
  void* prev = nullptr;
  while (bpf_map_get_next_key(counts_fd_, prev, &next) == 0) {
    if (next.probe_id < max_probes_ && ids[next.probe_id]) mine.push_back(next);
    key = next;
    prev = &key;
  }
  for (auto& k : mine) bpf_map_delete_elem(counts_fd_, &k);
}

// start(onBatch, onError, drainMs, scratch): deliver batches, copied into
// scratch, until stop() or close(); reading failures go to onError.
void Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  ring_.Start(env, info[0].As<Napi::Function>(), info[1].As<Napi::Function>(), ToU32(info[2]), info[3].As<Napi::Buffer<uint8_t>>());
}

void Tracer::Stop(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  ring_.Stop();
}

// ref(bool): whether an attached probe keeps the process alive.
void Tracer::SetRef(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  ring_.Ref(info[0].ToBoolean());
}

// ready(): waits for a background load; throws what made it fail.
void Tracer::WaitReady(const Napi::CallbackInfo& info) { Ready(info.Env()); }

// drain() -> bytes delivered; reads what is in the ring now, synchronously.
Napi::Value Tracer::Drain(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  Napi::Env env = info.Env();
  if (closed_) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, static_cast<double>(ring_.Drain(env)));
}

// info() -> ids of the loaded programs and maps, for inspection and tests.
Napi::Value Tracer::Info(const Napi::CallbackInfo& info) {
  Ready(info.Env());
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  if (closed_) return o;
  // The id of a loaded program, 0 for one not loaded (yet).
  auto prog_id = [](bpf_program* p) -> uint32_t {
    bpf_prog_info pi = {};
    uint32_t len = sizeof(pi);
    if (p == nullptr || bpf_program__fd(p) < 0 || bpf_obj_get_info_by_fd(bpf_program__fd(p), &pi, &len)) return 0;
    return pi.id;
  };
  uint32_t tracepoint = prog_id(Loaded("kn_tracepoint"));
  o.Set("kprobeProgram", prog_id(Loaded("kn_kprobe")));
  o.Set("tracepointProgram", tracepoint);
  Napi::Array all = Napi::Array::New(env, copies_.size() + 1);
  all[uint32_t(0)] = tracepoint;
  for (size_t i = 0; i < copies_.size(); i++) all[i + 1] = prog_id(bpf_object__find_program_by_name(copies_[i], "kn_tracepoint"));
  o.Set("tracepointPrograms", all);
  o.Set("perfEventProgram", prog_id(Loaded("kn_perf_event")));
  o.Set("links", static_cast<double>(links_.size()));
  return o;
}

void Tracer::Close(const Napi::CallbackInfo&) {
  if (closed_) return;
  napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  Release();
}

}  // namespace kn

namespace kn {

// pin(dir): pins the ring (dir/events), the probe configs (dir/configs), the
// lost counters (dir/lost) and every link (dir/link-<n>) in bpffs. The links
// then outlive this process (destroying ours only closes our fds), and
// another process reads the probe by opening the maps by path.
void Tracer::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  CheckPrograms(env, obj_);
  std::string dir = info[0].As<Napi::String>();
  LogCapture log;
  for (const char* name : {"events", "configs", "lost", "reader"}) {
    std::string path = dir + "/" + name;
    int err = bpf_map__pin(bpf_object__find_map_by_name(obj_, name), path.c_str());
    if (err) throw SyscallError(env, "pin map " + path, err, log.text());
  }
  for (auto& [id, link] : links_) {
    std::string path = dir + "/link-" + std::to_string(id);
    int err = bpf_link__pin(link, path.c_str());
    if (err) throw SyscallError(env, "pin link " + path, err, log.text());
  }
}

// Opens the maps a pinning process left in `dir` instead of loading the
// object: this tracer drains the pinned probe's ring and reads its lost
// counters; it attaches nothing.
void Tracer::OpenPinned(Napi::Env env, const std::string& dir) {
  // One reader at a time: readers share the ring's read position, so a second
  // would take half the events. The lock goes with this tracer's fds, and with
  // the process if it dies.
  int lock = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (lock >= 0) close(lock);
    Release();
    throw SyscallError(env, e == EWOULDBLOCK ? "read the pinned probe " + dir + ": another process reads it" : "open " + dir, -e, "");
  }
  pinned_fds_.push_back(lock);
  auto open = [&](const char* name) {
    std::string path = dir + "/" + name;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) {
      int e = errno;
      Release();
      throw SyscallError(env, "open pinned map " + path, -e, "");
    }
    pinned_fds_.push_back(fd);
    return fd;
  };
  int events = open("events");
  configs_fd_ = open("configs");
  int lost = open("lost");
  bpf_map_info mi = {};
  uint32_t len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(lost, &mi, &len) != 0) {
    int e = errno;
    Release();
    throw SyscallError(env, "read the pinned lost map", -e, "");
  }
  max_probes_ = mi.max_entries;
  lost_bytes_ = PageRound(static_cast<size_t>(max_probes_) * sizeof(uint64_t));
  void* m = mmap(nullptr, lost_bytes_, PROT_READ, MAP_SHARED, lost, 0);
  if (m == MAP_FAILED) {
    int e = errno;
    Release();
    throw SyscallError(env, "map the pinned lost counters", -e, "");
  }
  lost_ = static_cast<const volatile uint64_t*>(m);
  // Probes pinned by older versions have no reader flag: their reader drains on a timer.
  int reader = bpf_obj_get((dir + "/reader").c_str());
  if (reader >= 0) pinned_fds_.push_back(reader);
  int err = OpenRing(events, reader);
  if (err) {
    Release();
    throw SyscallError(env, "read the pinned ring buffer", err, "");
  }
  napi_add_env_cleanup_hook(env, CleanupHook, this);
}

}  // namespace kn

namespace kn {

// setCgroup(probeId, directory | null): limits a KN_CFG_CGROUP probe to the
// cgroup v2 at `directory` and below it, or forgets the probe's cgroup. The
// map holds the cgroup itself, not our fd: the fd is closed at once, and the
// directory may be removed while the probe runs (no task is in it then).
void Tracer::SetCgroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  uint32_t id = ToU32(info[0]);
  if (cgroups_fd_ < 0 || id >= max_probes_) throw Napi::RangeError::New(env, "bad probe id for a cgroup");
  if (!info[1].IsString()) {
    bpf_map_delete_elem(cgroups_fd_, &id);  // ENOENT: it had none
    return;
  }
  std::string dir = info[1].As<Napi::String>();
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw SyscallError(env, "open the cgroup " + dir, -errno, "");
  uint32_t value = static_cast<uint32_t>(fd);
  int err = bpf_map_update_elem(cgroups_fd_, &id, &value, BPF_ANY) ? -errno : 0;
  close(fd);
  if (err) throw SyscallError(env, "limit the probe to the cgroup " + dir, err, "");
}

}  // namespace kn
