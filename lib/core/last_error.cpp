// Per-thread record of the last failure, behind bs_get_last_error() / bs_get_last_status().
#include "core/last_error.hpp"

#include <cstring>

#include "core/error.hpp"

namespace bs {
namespace {

struct LastError {
  bs_status_t status = BS_STATUS_SUCCESS;
  std::string message;
};

LastError& last_error() {
  thread_local LastError record;
  return record;
}

}  // namespace

void set_last_error(bs_status_t status, const std::string& message) noexcept {
  LastError& record = last_error();
  record.status = status;
  try {
    record.message = message;
  } catch (...) {
    record.message.clear();  // out of memory while recording: keep the status at least
  }
}

bs_status_t last_status() noexcept { return last_error().status; }

const std::string& last_message() noexcept { return last_error().message; }

void clear_last_error() noexcept {
  last_error().status = BS_STATUS_SUCCESS;
  last_error().message.clear();
}

}  // namespace bs
