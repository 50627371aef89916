#include "perf_reader.h"

#include <bpf/libbpf.h>

#include <cerrno>

#include "errors.h"
#include "libbpf_log.h"

namespace kn {

PerfReader::PerfReader(Napi::Env env, const Options& opts, Napi::Function on_batch)
    : env_(env), drain_ms_(opts.drain_ms), batch_limit_(opts.batch_bytes) {
  LogCapture log;
  perf_ = perf_buffer__new(opts.map_fd, opts.perf_pages, OnPerfSample, OnPerfLost, this, nullptr);
  if (perf_ == nullptr) {
    int e = errno;
    delete batch_;
    throw SyscallError(env, "read the perf event array", -e, log.text());
  }
  on_batch_ = Napi::Persistent(on_batch);
}

PerfReader::~PerfReader() {
  Stop();
  delete batch_;
}

void PerfReader::Start() {
  if (poll_ != nullptr || perf_ == nullptr) return;
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env_, &loop);
  poll_ = new uv_poll_t;
  uv_poll_init(loop, poll_, perf_buffer__epoll_fd(perf_));
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int, int) { OnWake(reinterpret_cast<uv_handle_t*>(h)); });
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);
  timer_->data = this;
  uv_timer_start(timer_, [](uv_timer_t* h) { OnWake(reinterpret_cast<uv_handle_t*>(h)); }, drain_ms_, drain_ms_);
}

void PerfReader::Stop() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (perf_ != nullptr) perf_buffer__free(perf_);
  perf_ = nullptr;
  if (!on_batch_.IsEmpty()) on_batch_.Reset();
}

void PerfReader::Append(uint32_t cpu, const void* data, size_t size) {
  size_t at = batch_->size();
  size_t padded = (size + 7) & ~static_cast<size_t>(7);
  batch_->resize(at + 8 + padded);
  uint8_t* p = batch_->data() + at;
  uint32_t header[2] = {static_cast<uint32_t>(size), cpu};
  memcpy(p, header, sizeof(header));
  memcpy(p + 8, data, size);
  if (padded > size) memset(p + 8 + size, 0, padded - size);
}

void PerfReader::OnPerfSample(void* ctx, int cpu, void* data, unsigned int size) {
  auto* self = static_cast<PerfReader*>(ctx);
  self->Append(static_cast<uint32_t>(cpu), data, size);
  // perf_buffer__consume cannot be stopped midway: a batch may pass the limit by one CPU's records.
  if (self->batch_->size() >= self->batch_limit_) self->batch_full_ = true;
}

void PerfReader::OnPerfLost(void* ctx, int, unsigned long long count) { static_cast<PerfReader*>(ctx)->lost_ += count; }

size_t PerfReader::Drain(Napi::Env env) {
  // on_batch may close this reader (or its object): hold it until the loop ends.
  std::shared_ptr<PerfReader> hold = self_.lock();
  size_t delivered = 0;
  // A few bounded batches per wake-up: memory stays bounded and the event
  // loop gets its turn; the next tick goes on where this one stopped.
  for (int round = 0; round < 16 && perf_ != nullptr; round++) {
    batch_full_ = false;
    int n = perf_buffer__consume(perf_);
    if (n < 0) throw SyscallError(env, "read the perf event array", n, "");
    if (batch_->empty()) break;
    delivered += batch_->size();
    // The Buffer takes the batch's memory as it is: records are copied once, from the buffer.
    std::vector<uint8_t>* full = batch_;
    batch_ = new std::vector<uint8_t>();
    batch_->reserve(full->capacity());
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(
        env, full->data(), full->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, full);
    if (!on_batch_.IsEmpty()) on_batch_.MakeCallback(env.Global(), {buf});
    if (!batch_full_) break;
  }
  return delivered;
}

// A wake-up or a timer tick, from the event loop: drain, and let an error
// surface as an uncaught exception (there is no JS caller to throw to).
void PerfReader::OnWake(uv_handle_t* handle) {
  auto* self = static_cast<PerfReader*>(handle->data);
  if (self == nullptr) return;
  Napi::Env env = self->env_;
  Napi::HandleScope scope(env);
  try {
    self->Drain(env);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

}  // namespace kn
