#pragma once

namespace bs {

// Static `key=value` lines describing this build (generated at configure time).
const char* build_info_text();

}  // namespace bs
