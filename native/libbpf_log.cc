#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace kn {

// libbpf's printer is process-wide; N-API calls run on the JS thread, so one
// active capture per thread is enough (nested captures chain to the outer).
static thread_local LogCapture* active = nullptr;
static bool debug = false;

LogCapture::LogCapture() : outer_(active) { active = this; }
LogCapture::~LogCapture() { active = outer_; }

static int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  char buf[4096];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(buf, sizeof(buf), fmt, copy);
  va_end(copy);
  if (n < 0) return n;
  if (active != nullptr && level != LIBBPF_DEBUG) {
    if (static_cast<size_t>(n) < sizeof(buf)) {
      active->Append(buf, n);
    } else {
      // A long line (the verifier log comes in big pieces): format again at full size.
      std::string big(n + 1, '\0');
      vsnprintf(big.data(), big.size(), fmt, args);
      big.resize(n);
      active->Append(big.data(), big.size());
    }
  }
  if (debug) fputs(buf, stderr);
  return n;
}

void InstallLibbpfPrinter() {
  const char* env = getenv("KPROBE_NODE_DEBUG");
  debug = env != nullptr && *env != '\0' && *env != '0';
  libbpf_set_print(Print);
}

}  // namespace kn
