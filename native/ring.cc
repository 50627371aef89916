#include "ring.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace kn {

namespace {

// Batches per wake-up at most: the event loop gets its turn between them.
constexpr int kRoundsPerWake = 16;

uint64_t LoadAcquire(const volatile uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
uint32_t LoadAcquire32(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE); }

// A record's place in the ring: its 8-byte header and its data, rounded up to 8.
uint64_t RecordBytes(uint32_t header) {
  uint64_t len = header & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
  return (len + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
}

}  // namespace

RingReader::~RingReader() { Close(); }

int RingReader::Open(int map_fd) {
  bpf_map_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &len) != 0) return -errno;
  if (info.type != BPF_MAP_TYPE_RINGBUF) return -EINVAL;
  fd_ = map_fd;
  size_ = info.max_entries;
  page_ = static_cast<size_t>(getpagesize());
  void* c = mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (c == MAP_FAILED) return -errno;
  consumer_ = static_cast<volatile uint64_t*>(c);
  producer_map_bytes_ = page_ + 2 * size_;
  void* p = mmap(nullptr, producer_map_bytes_, PROT_READ, MAP_SHARED, map_fd, static_cast<off_t>(page_));
  if (p == MAP_FAILED) {
    int e = errno;
    munmap(c, page_);
    consumer_ = nullptr;
    return -e;
  }
  producer_map_ = p;
  producer_ = static_cast<const volatile uint64_t*>(p);
  data_ = static_cast<const uint8_t*>(p) + page_;
  return 0;
}

uint64_t RingReader::Pending() const {
  if (!open()) return 0;
  return LoadAcquire(producer_) - LoadAcquire(consumer_);
}

size_t RingReader::Ready(size_t limit) const {
  uint64_t cons = LoadAcquire(consumer_);
  uint64_t prod = LoadAcquire(producer_);
  uint64_t pos = cons;
  while (pos < prod) {
    uint32_t header = LoadAcquire32(data_ + (pos & (size_ - 1)));
    if (header & BPF_RINGBUF_BUSY_BIT) break;  // still being written
    uint64_t next = pos + RecordBytes(header);
    if (next - cons > limit && pos > cons) break;
    pos = next;
  }
  return static_cast<size_t>(pos - cons);
}

size_t RingReader::Drain(Napi::Env env) {
  size_t delivered = 0;
  // A listener may stop the reading (a consumer holding back): then this drain ends too.
  const bool polling = poll_ != nullptr;
  for (int round = 0; round < kRoundsPerWake && open(); round++) {
    size_t n = Ready(batch_limit_);
    if (n == 0) break;
    // One copy out of the ring, into the scratch JS handed over (or, for a
    // record larger than it, memory of its own); then the space is the kernel's again.
    Napi::Buffer<uint8_t> buf = !scratch_.IsEmpty() && n <= scratch_.Value().Length() ? scratch_.Value() : Napi::Buffer<uint8_t>::New(env, n);
    uint64_t cons = LoadAcquire(consumer_);
    memcpy(buf.Data(), data_ + (cons & (size_ - 1)), n);
    __atomic_store_n(consumer_, cons + n, __ATOMIC_RELEASE);
    delivered += n;
    if (!on_batch_.IsEmpty()) on_batch_.MakeCallback(env.Global(), {buf, Napi::Number::New(env, static_cast<double>(n))});
    if (!open() || (polling && poll_ == nullptr)) break;  // closed or stopped by a listener
  }
  return delivered;
}

void RingReader::OnReadable(uv_poll_t* handle, int status, int) {
  auto* self = static_cast<RingReader*>(handle->data);
  if (self == nullptr) return;
  if (status < 0 && !self->on_error_.IsEmpty()) {
    Napi::HandleScope scope(self->env_);
    Napi::Error e = SyscallError(self->env_, "watch the ring buffer", status, "");
    self->Call(self->on_error_, e.Value());
    return;
  }
  self->OnEvent(true);
}

void RingReader::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<RingReader*>(handle->data);
  if (self != nullptr) self->OnEvent(false);
}

// Calls `fn` from the event loop. What JavaScript throws there (a listener's
// exception, which the session rethrows on the next tick, and node runs the
// ticks as the callback returns) is the process's uncaught exception, as for
// any callback from the event loop: there is no JS caller to throw to, and it
// is no failure to read the ring.
void RingReader::Call(const Napi::FunctionReference& fn, napi_value arg) {
  try {
    fn.MakeCallback(env_.Global(), {arg});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env_, e.Value());
  }
}

// A wake-up from the kernel or a tick: drain; sleep after a tick that found
// nothing.
void RingReader::OnEvent(bool readable) {
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  if (sleeping_) Wake();
  size_t n = 0;
  try {
    n = Drain(env);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());  // thrown by JavaScript: see Call()
    return;
  }
  if (n == 0 && !readable && asleep_ != nullptr && open()) Sleep();
}

void RingReader::Wake() {
  sleeping_ = false;
  if (asleep_ != nullptr) __atomic_store_n(asleep_, 0, __ATOMIC_RELEASE);
  if (timer_ != nullptr) uv_timer_start(timer_, OnTimer, drain_ms_, drain_ms_);
}

// Raises the flag, then looks at the ring once more: a producer that
// committed a record before it could see the flag left that record for this
// look (bpf/kprobe_node.bpf.c, wake_if_asleep, does the other half). Asleep,
// nothing runs until a record comes.
void RingReader::Sleep() {
  __atomic_store_n(asleep_, 1, __ATOMIC_SEQ_CST);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (Pending() != 0) {
    __atomic_store_n(asleep_, 0, __ATOMIC_RELEASE);
    return;
  }
  sleeping_ = true;
  if (timer_ != nullptr) uv_timer_stop(timer_);
}

void RingReader::Start(Napi::Env env, Napi::Function on_batch, Napi::Function on_error, uint32_t drain_ms, Napi::Buffer<uint8_t> scratch) {
  env_ = env;
  on_batch_ = Napi::Persistent(on_batch);
  on_error_ = Napi::Persistent(on_error);
  scratch_ = Napi::Persistent(scratch);
  drain_ms_ = drain_ms > 0 ? drain_ms : 1;
  batch_limit_ = scratch.Length();
  if (poll_ != nullptr || !open()) return;
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  uv_poll_init(loop, poll_, fd_);
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, OnReadable);
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);
  timer_->data = this;
  sleeping_ = false;
  uv_timer_start(timer_, OnTimer, drain_ms_, drain_ms_);
  Ref(ref_);
}

void RingReader::Ref(bool ref) {
  ref_ = ref;
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(poll_), reinterpret_cast<uv_handle_t*>(timer_)}) {
    if (h == nullptr) continue;
    if (ref) uv_ref(h);
    else uv_unref(h);
  }
}

void RingReader::Stop() {
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
  // Nobody reads while stopped: producers need not wake anyone.
  if (asleep_ != nullptr) __atomic_store_n(asleep_, 0, __ATOMIC_RELEASE);
  sleeping_ = false;
}

void RingReader::Close() {
  Stop();
  if (!on_batch_.IsEmpty()) on_batch_.Reset();
  if (!on_error_.IsEmpty()) on_error_.Reset();
  if (!scratch_.IsEmpty()) scratch_.Reset();
  if (producer_map_ != nullptr) munmap(producer_map_, producer_map_bytes_);
  if (consumer_ != nullptr) munmap(const_cast<uint64_t*>(consumer_), page_);
  producer_map_ = nullptr;
  producer_ = nullptr;
  consumer_ = nullptr;
  data_ = nullptr;
  asleep_ = nullptr;
  fd_ = -1;
}

}  // namespace kn
