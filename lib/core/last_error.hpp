#pragma once
#include <blocksparse/bs_types.h>

#include <string>

namespace bs {

bs_status_t last_status() noexcept;
const std::string& last_message() noexcept;
void clear_last_error() noexcept;

}  // namespace bs
