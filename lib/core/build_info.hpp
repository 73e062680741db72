#pragma once

namespace bs {

// `key=value` lines describing this build and the CUDA runtime it runs with (see bs_get_build_info()).
const char* build_info_text();

// Version of the CUDA runtime library loaded with this library, as cudaRuntimeGetVersion() gives it
// (1000*major + 10*minor); 0 when CUDA is not built in or the runtime cannot tell.
int cuda_runtime_version();

}  // namespace bs
