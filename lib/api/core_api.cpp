// extern "C" entry points of bs_core.h.
#include <blocksparse/bs_core.h>

#include <algorithm>
#include <cstring>

#include "core/build_info.hpp"
#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "core/last_error.hpp"
#include "core/status.hpp"

#if defined(BS_WITH_CUDA)
#include "kernels/common/cuda_device.hpp"
#endif

extern "C" {

BS_API int32_t bs_get_version(void) { return BS_VERSION; }

BS_API const char* bs_get_version_string(void) { return BS_VERSION_STRING; }

BS_API const char* bs_get_build_info(void) { return bs::build_info_text(); }

BS_API const char* bs_status_name(bs_status_t status) { return bs::status_name(bs::enum_arg(status)); }

BS_API const char* bs_status_description(bs_status_t status) { return bs::status_description(bs::enum_arg(status)); }

BS_API bs_status_t bs_get_last_error(char* buf, size_t buf_bytes, size_t* msg_bytes) {
  // Reports its own misuse by status only, so that the message being read stays intact.
  if (buf == nullptr && buf_bytes > 0) return BS_STATUS_NULL_POINTER;
  const std::string& msg = bs::last_message();
  if (msg_bytes) *msg_bytes = msg.size() + 1;
  if (buf_bytes > 0) {
    const size_t n = std::min(msg.size(), buf_bytes - 1);
    std::memcpy(buf, msg.data(), n);
    buf[n] = '\0';
  }
  return BS_STATUS_SUCCESS;
}

BS_API bs_status_t bs_get_last_status(void) { return bs::last_status(); }

BS_API bs_status_t bs_clear_last_error(void) {
  bs::clear_last_error();
  return BS_STATUS_SUCCESS;
}

BS_API bs_status_t bs_dtype_size(bs_dtype_t dtype, size_t* bytes) {
  return bs::translate(__func__, [&] {
    bs::check_not_null(bytes, "bytes");
    const int32_t d = bs::enum_arg(dtype);
    bs::check_dtype(d, "dtype");
    *bytes = bs::dtype_bytes(d);
  });
}

BS_API bs_status_t bs_get_device_count(bs_backend_t backend, int32_t* count) {
  return bs::translate(__func__, [&] {
    bs::check_not_null(count, "count");
    const int32_t b = bs::enum_arg(backend);
    switch (b) {
      case BS_BACKEND_CPU: *count = 1; return;
      case BS_BACKEND_CUDA:
#if defined(BS_WITH_CUDA)
        *count = bs::cuda::device_count();
#else
        *count = 0;
#endif
        return;
      default: bs::fail(BS_STATUS_INVALID_VALUE, "backend is not a bs_backend_t (got ", b, ")");
    }
  });
}

}  // extern "C"
