// A BpfObject owns one user-compiled CO-RE object (bpf_object__open_mem),
// its programs, maps, links, the mappings of its global data and the ring or
// perf buffer readers opened on its maps. Closing it (or the environment
// going away) destroys the links, stops the readers and closes every fd; the
// kernel detaches what a killed process held when its fds go.
#pragma once

#include <napi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "perf_reader.h"
#include "ring.h"

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;

namespace kn {

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit BpfObject(const Napi::CallbackInfo& info);
  ~BpfObject() override;

 private:
  // Before load. Arguments are validated in TypeScript before they get here.
  Napi::Value InitialValue(const Napi::CallbackInfo& info);
  void SetInitialValue(const Napi::CallbackInfo& info);
  void SetMaxEntries(const Napi::CallbackInfo& info);
  void SetAutoload(const Napi::CallbackInfo& info);
  void Load(const Napi::CallbackInfo& info);
  // Programs and links.
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value AttachKprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachKsyscall(const Napi::CallbackInfo& info);
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info);
  void Detach(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  // Maps.
  Napi::Value MapInfo(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  void Update(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value NextKey(const Napi::CallbackInfo& info);
  Napi::Value Entries(const Napi::CallbackInfo& info);
  Napi::Value ReadGlobal(const Napi::CallbackInfo& info);
  void WriteGlobal(const Napi::CallbackInfo& info);
  // Ring and perf buffer readers.
  Napi::Value OpenReader(const Napi::CallbackInfo& info);
  void CloseReader(const Napi::CallbackInfo& info);
  Napi::Value DrainReader(const Napi::CallbackInfo& info);
  Napi::Value ReaderLost(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  static Napi::Value PossibleCpus(const Napi::CallbackInfo& info);

  bpf_map* Map(Napi::Env env, const Napi::Value& name) const;
  bpf_program* Program(Napi::Env env, const Napi::Value& name) const;
  // The fd of a loaded map; throws before load or after close.
  int MapFd(Napi::Env env, bpf_map* map) const;
  void CheckOpen(Napi::Env env) const;
  void CheckLoaded(Napi::Env env) const;
  // Bytes of one value as the kernel exchanges it (per-CPU maps: one per possible CPU).
  size_t ValueBytes(bpf_map* map) const;
  // A mapping of an mmapable global data map (.data, .bss, .rodata), made on first use.
  uint8_t* Globals(Napi::Env env, bpf_map* map, size_t* size);
  Napi::Value AddLink(Napi::Env env, bpf_link* link, const std::string& what, const std::string& log);
  void Release();
  static void CleanupHook(void* arg);

  Napi::Env env_;
  // libbpf keeps pointers into the ELF image until the object is closed.
  std::vector<uint8_t> image_;
  bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  bool closed_ = false;
  std::map<uint32_t, bpf_link*> links_;
  uint32_t next_link_ = 1;
  struct Mapping {
    void* addr;
    size_t bytes;
  };
  std::map<bpf_map*, Mapping> globals_;
  // Readers by id. A closed ring reader stays (closed) until the object goes:
  // it may be closed from within its own callback.
  std::map<uint32_t, std::unique_ptr<RingReader>> rings_;
  std::map<uint32_t, std::shared_ptr<PerfReader>> perfs_;
  uint32_t next_reader_ = 1;
};

}  // namespace kn
