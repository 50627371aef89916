// Reads a BPF ring buffer map from user space and hands its records to
// JavaScript in batches, from the Node event loop, with no thread and no call
// into JavaScript per record.
//
// The map is mapped as the kernel lays it out: the consumer position page
// (read-write), then the producer position page and the data, read-only, the
// data twice in a row so that a record that wraps around is contiguous. A
// batch is one copy of a run of whole records, each still behind its 8-byte
// ring header (length and flags): the same format for the project's own
// records and for any program's.
//
// Wake-ups: while records flow, the ring is drained on a timer and producers
// write without waking anyone. When a drain finds nothing, the reader sleeps:
// it stops the timer and raises `asleep` (a flag the BPF program reads after
// each record, in a map shared with it), and the next record forces a wake-up
// through the map's fd, which the reader watches with a uv_poll_t. A forced
// wake-up also comes when the ring is filling up. Without a flag (a program
// that wakes the reader itself) the reader drains on every wake-up and on
// the timer.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>

namespace kn {

class RingReader {
 public:
  RingReader() = default;
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;
  ~RingReader();

  // Maps the ring buffer map `map_fd` (not owned); returns 0 or a negative errno.
  int Open(int map_fd);
  // The flag the BPF program reads before it writes (1: force a wake-up).
  void SetAsleepFlag(volatile uint64_t* flag) { asleep_ = flag; }
  // Starts delivering: `on_batch(buffer, length)` for each batch, `on_error(error)`
  // when reading fails. `drain_ms`: the timer's period while records flow.
  // Batches are copied into `scratch` (its first `length` bytes), reused from
  // batch to batch: the listener must copy what it keeps. A run of records
  // larger than the scratch gets a Buffer of its own.
  void Start(Napi::Env env, Napi::Function on_batch, Napi::Function on_error, uint32_t drain_ms, Napi::Buffer<uint8_t> scratch);
  // Stops the timer and the fd watch; Start() may be called again.
  void Stop();
  // Delivers what is in the ring now, synchronously; returns the bytes delivered.
  size_t Drain(Napi::Env env);
  // Whether the event loop's handles keep the process alive.
  void Ref(bool ref);
  // Stops and unmaps; idempotent.
  void Close();
  bool open() const { return data_ != nullptr; }
  // Bytes written and not yet consumed (0 when empty).
  uint64_t Pending() const;

 private:
  // Bytes of whole committed records from the consumer position, at most `limit`
  // (but at least one record when one is ready).
  size_t Ready(size_t limit) const;
  void Wake();
  void Sleep();
  static void OnReadable(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  void OnEvent(bool readable);
  // Calls `fn(arg)` from the event loop; what JavaScript throws becomes the process's uncaught exception.
  void Call(const Napi::FunctionReference& fn, napi_value arg);

  int fd_ = -1;
  uint64_t size_ = 0;  // data bytes, a power of two
  size_t page_ = 0;
  volatile uint64_t* consumer_ = nullptr;
  const volatile uint64_t* producer_ = nullptr;
  const uint8_t* data_ = nullptr;
  void* producer_map_ = nullptr;
  size_t producer_map_bytes_ = 0;
  volatile uint64_t* asleep_ = nullptr;

  Napi::Env env_ = nullptr;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_error_;
  Napi::Reference<Napi::Buffer<uint8_t>> scratch_;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uint32_t drain_ms_ = 10;
  size_t batch_limit_ = 1 << 20;
  bool sleeping_ = false;
  bool ref_ = true;
};

}  // namespace kn
