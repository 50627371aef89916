// A Tracer owns one loaded copy of bpf/kprobe_node.bpf.o: its programs, the
// probe config array, the lost counters, the shared ring buffer and every
// link attached through it. Closing it (or the environment going away)
// detaches all links and frees everything.
#pragma once

#include <napi.h>


#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ring.h"

struct bpf_object;
struct bpf_program;
struct bpf_link;

namespace kn {

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  // JS methods; arguments are validated in TypeScript before they get here.
  Napi::Value AttachKprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachKprobeMulti(const Napi::CallbackInfo& info);
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachPerfEvent(const Napi::CallbackInfo& info);
  void Detach(const Napi::CallbackInfo& info);
  Napi::Value HandOff(const Napi::CallbackInfo& info);
  void SetConfig(const Napi::CallbackInfo& info);
  void SetCgroup(const Napi::CallbackInfo& info);
  Napi::Value Lost(const Napi::CallbackInfo& info);
  Napi::Value Hist(const Napi::CallbackInfo& info);
  Napi::Value HistSum(const Napi::CallbackInfo& info);
  void ResetHist(const Napi::CallbackInfo& info);
  Napi::Value Counts(const Napi::CallbackInfo& info);
  void ClearCounts(const Napi::CallbackInfo& info);
  // In-kernel stack counting (native/stacks.cc).
  Napi::Value CreateStackMaps(const Napi::CallbackInfo& info);
  void DropStackMaps(const Napi::CallbackInfo& info);
  Napi::Value StackCounts(const Napi::CallbackInfo& info);
  void ClearStackCounts(const Napi::CallbackInfo& info);
  Napi::Value StackTraces(const Napi::CallbackInfo& info);
  int MapFd(Napi::Env env, const char* name) const;
  void Start(const Napi::CallbackInfo& info);
  void Stop(const Napi::CallbackInfo& info);
  void SetRef(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  void WaitReady(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void Pin(const Napi::CallbackInfo& info);
  void OpenPinned(Napi::Env env, const std::string& dir);

  // What the constructor loads: the object's path, map sizes and programs.
  struct LoadRequest {
    std::string path;
    uint32_t ring_bytes, wakeup_bytes, max_counts;
    std::vector<std::string> programs;
  };
  struct LoadFailure {
    std::string op;
    int err;  // negative errno
    std::string log;
  };
  // Opens and loads the object; touches no JS state, so it may run on the
  // loader thread. A failure is kept in failure_ for Ready() to throw.
  void Load(const LoadRequest& req);
  // Waits for a background load and throws its failure (once; the tracer is
  // closed after). Every JS method calls it first.
  void Ready(Napi::Env env);
  // Ready(), then refuses a closed tracer.
  void CheckOpen(Napi::Env env);
  bpf_object* CopyObject(Napi::Env env, const char* program);
  // The loaded program `name`: the object's own when it was loaded with it,
  // else the copy holding only it; nullptr when neither is loaded yet.
  bpf_program* Loaded(const char* name) const;
  // Loaded(name), loading its copy first when needed.
  bpf_program* Program(Napi::Env env, const char* name);
  Napi::Value AddLink(Napi::Env env, bpf_link* link, const char* what, const std::string& log);
  // Maps the ring and the reader's wake-up flag (map `reader`, absent from
  // probes pinned by older versions); returns 0 or a negative errno.
  int OpenRing(int ring_fd, int reader_fd);
  void Release();
  static void CleanupHook(void* arg);

  Napi::Env env_;
  // With { background: true } the object loads on this thread, overlapping
  // whatever JS does until the tracer is first used.
  std::thread loader_;
  std::optional<LoadFailure> failure_;
  bpf_object* obj_ = nullptr;
  // Programs the object was not loaded with, each in a copy of its own
  // sharing every map (verifying a program costs ~15 ms: only used ones are).
  std::map<std::string, bpf_object*> lazy_;
  // Further copies of the tracepoint program, for further probes on a
  // tracepoint that a program of this tracer is already attached to.
  std::vector<bpf_object*> copies_;
  std::string path_;
  uint32_t wakeup_bytes_ = 0;
  int configs_fd_ = -1;
  uint32_t max_probes_ = 0;
  size_t config_size_ = 0;
  const volatile uint64_t* lost_ = nullptr;  // mmap of the kernel's lost counters
  size_t lost_bytes_ = 0;
  volatile uint64_t* hists_ = nullptr;  // mmap of the kernel's log2 histograms
  size_t hists_bytes_ = 0;
  volatile uint64_t* reader_ = nullptr;  // mmap of the reader's wake-up flag
  volatile uint64_t* sums_ = nullptr;  // mmap of the histograms' sums, one per probe id (lost_bytes_ long)
  int counts_fd_ = -1;
  int cgroups_fd_ = -1;  // the cgroup array of KN_CFG_CGROUP probes, by probe id
  RingReader ring_;
  std::map<uint32_t, bpf_link*> links_;
  uint32_t next_link_ = 1;
  bool closed_ = false;
  // Map fds opened from bpffs by a tracer that reads a pinned probe.
  std::vector<int> pinned_fds_;
};

}  // namespace kn
