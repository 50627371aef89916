// Captures libbpf's messages per operation, so that a failure can carry the
// log (verifier output included) instead of printing it to stderr.
#pragma once

#include <string>

namespace kn {

class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  const std::string& text() const { return text_; }
  void Append(const char* s, size_t n) { text_.append(s, n); }

 private:
  std::string text_;
  LogCapture* outer_;
};

void InstallLibbpfPrinter();

}  // namespace kn
