#pragma once
#include <blocksparse/bs_types.h>

#include <cstdint>

namespace bs {

// `status` is the raw value of a bs_status_t (any int32 a caller may pass).
const char* status_name(int32_t status);
const char* status_description(int32_t status);

}  // namespace bs
