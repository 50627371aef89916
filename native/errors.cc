#include "errors.h"

#include <cstring>

namespace kn {

Napi::Error SyscallError(Napi::Env env, const std::string& op, int err, const std::string& log) {
  int e = err < 0 ? -err : err;
  const char* name = strerrorname_np(e);
  Napi::Error error = Napi::Error::New(env, op + ": " + strerror(e));
  error.Set("op", op);
  error.Set("errno", Napi::Number::New(env, e));
  error.Set("code", name != nullptr ? name : "EUNKNOWN");
  error.Set("log", log);
  return error;
}

}  // namespace kn
