// Errors thrown to JavaScript carry the errno's name, its number, the failing
// operation and libbpf's log, so that lib/ can turn them into typed errors.
#pragma once

#include <napi.h>

#include <string>

namespace kn {

// `err` is a negative errno, as libbpf returns them.
Napi::Error SyscallError(Napi::Env env, const std::string& op, int err, const std::string& log);

}  // namespace kn
