// Reads a user object's BPF_MAP_TYPE_PERF_EVENT_ARRAY on the Node event loop
// and hands JavaScript whole batches of records: one call per batch, never
// one per record. Each record in a batch is
//   u32 size, u32 cpu, size bytes, padding to 8 bytes
// (the layout of a ring buffer record behind its header, which RingReader
// hands over: one parser reads both). The map's epoll fd is watched with a
// uv_poll_t, and a timer drains what came without a wake-up.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct perf_buffer;

namespace kn {

class PerfReader {
 public:
  struct Options {
    int map_fd;
    uint32_t drain_ms;
    size_t batch_bytes;
    size_t perf_pages;  // per CPU, a power of two
  };

  // Throws a SyscallError when libbpf cannot set the reader up.
  PerfReader(Napi::Env env, const Options& opts, Napi::Function on_batch);
  ~PerfReader();
  PerfReader(const PerfReader&) = delete;
  PerfReader& operator=(const PerfReader&) = delete;

  // Starts watching the map; records go to on_batch from the event loop.
  void Start();
  // Consumes what is ready now and delivers it; returns the bytes delivered.
  size_t Drain(Napi::Env env);
  // Records the kernel dropped.
  uint64_t lost() const { return lost_; }
  // Stops watching and frees the libbpf reader; safe to call more than once,
  // and from within on_batch.
  void Stop();

 private:
  static void OnPerfSample(void* ctx, int cpu, void* data, unsigned int size);
  static void OnPerfLost(void* ctx, int cpu, unsigned long long count);
  static void OnWake(uv_handle_t* handle);
  void Append(uint32_t cpu, const void* data, size_t size);

  Napi::Env env_;
  uint32_t drain_ms_;
  perf_buffer* perf_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  Napi::FunctionReference on_batch_;
  std::vector<uint8_t>* batch_ = new std::vector<uint8_t>();  // handed to JS whole, then replaced
  size_t batch_limit_;
  bool batch_full_ = false;
  uint64_t lost_ = 0;
  // Keeps this reader alive while a JS callback runs (it may close it).
  std::weak_ptr<PerfReader> self_;

  friend class BpfObject;
};

}  // namespace kn
