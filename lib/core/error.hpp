#pragma once
// Errors inside the library are C++ exceptions carrying a status; the C API layer (lib/api)
// catches them all (bs::translate) so that none crosses the ABI, and records the message per thread.
#include <blocksparse/bs_types.h>

#include <exception>
#include <sstream>
#include <string>
#include <utility>

namespace bs {

class Error : public std::exception {
 public:
  Error(bs_status_t status, std::string message) : status_(status), message_(std::move(message)) {}
  bs_status_t status() const noexcept { return status_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  bs_status_t status_;
  std::string message_;
};

// Concatenates any streamable values into one message.
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(bs_status_t status, Args&&... args) {
  throw Error(status, concat(std::forward<Args>(args)...));
}

// Records the calling thread's last failure (read back by bs_get_last_error()).
void set_last_error(bs_status_t status, const std::string& message) noexcept;

// Runs `body` (which returns nothing) and turns every exception into a status, recording the
// message as "<function>: <message>". The only place exceptions are caught.
template <typename Body>
bs_status_t translate(const char* function, Body&& body) noexcept {
  try {
    body();
    return BS_STATUS_SUCCESS;
  } catch (const Error& e) {
    set_last_error(e.status(), concat(function, ": ", e.what()));
    return e.status();
  } catch (const std::bad_alloc&) {
    set_last_error(BS_STATUS_OUT_OF_MEMORY, concat(function, ": host allocation failed"));
    return BS_STATUS_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_last_error(BS_STATUS_INTERNAL_ERROR, concat(function, ": internal error: ", e.what()));
    return BS_STATUS_INTERNAL_ERROR;
  } catch (...) {
    set_last_error(BS_STATUS_INTERNAL_ERROR, concat(function, ": internal error: unknown exception"));
    return BS_STATUS_INTERNAL_ERROR;
  }
}

}  // namespace bs
