// Errors: the library throws llmprune::Error; only main (and later the server's request
// boundary) catches. Bad input (a user can fix it) exits 2, an internal failure exits 1.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace llmprune {

enum class ErrorKind { kBadInput, kInternal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return kind_ == ErrorKind::kBadInput ? 2 : 1; }

 private:
  ErrorKind kind_;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Build the message from any streamable pieces: bad_input("[safetensors] ", path, ": ...").
template <typename... Args>
Error bad_input(const Args&... args) {
  return Error(ErrorKind::kBadInput, detail::concat(args...));
}
template <typename... Args>
Error internal_error(const Args&... args) {
  return Error(ErrorKind::kInternal, detail::concat(args...));
}

}  // namespace llmprune

// LLMPRUNE_CHECK(cond, pieces...): bad input when cond is false (exit 2).
#define LLMPRUNE_CHECK(cond, ...)                        \
  do {                                                   \
    if (!(cond)) throw ::llmprune::bad_input(__VA_ARGS__); \
  } while (0)

// LLMPRUNE_ASSERT(cond, pieces...): a broken internal invariant (exit 1).
#define LLMPRUNE_ASSERT(cond, ...)                                                         \
  do {                                                                                     \
    if (!(cond))                                                                           \
      throw ::llmprune::internal_error("internal error at ", __FILE__, ":", __LINE__, ": ", \
                                       __VA_ARGS__);                                       \
  } while (0)
