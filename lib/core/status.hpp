#pragma once
#include <blocksparse/bs_types.h>

namespace bs {

const char* status_name(bs_status_t status);
const char* status_description(bs_status_t status);

}  // namespace bs
