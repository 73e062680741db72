#pragma once
// The work list of an optimizer plan (bs_optim.h): the tensor list cut into chunks, and the chunks
// grouped so that one CUDA launch serves one group (its tensors' pointers fit in the kernel
// parameters). Plain host code, built once by bs_optim_create() and shared by both backends.
//
// Chunks are the unit of parallel work and of the global norm's partial sums: tensor t is cut into
// chunks of kChunkElems elements (the last one shorter), in plan order. A chunk starts at a multiple
// of kChunkElems, so 8-element packs and blocks (block_elems is a multiple of 8 dividing the tensor)
// never straddle two chunks' boundaries in a way that matters: a pack lies in one chunk and one block.
#include <cstdint>
#include <vector>

namespace bs {

struct OptimTensor {
  int64_t rows = 0, cols = 0, numel = 0;
  int32_t dtype = 0;
  int64_t block_elems = 0;  // 0 = no block structure
};

struct OptimChunk {
  int32_t tensor = 0;  // index in the plan's list
  int32_t slot = 0;    // index of the tensor inside its group
  int64_t begin = 0, end = 0;  // element range [begin, end) of the tensor
};

// Tensors of one dtype and block flag, at most max_tensors of them, in plan order; their chunks
// are chunks[first_chunk, first_chunk + n_chunks).
struct OptimGroup {
  int32_t dtype = 0;
  bool blocked = false;
  std::vector<int32_t> tensors;
  int64_t first_chunk = 0, n_chunks = 0;
};

struct OptimWorklist {
  static constexpr int64_t kChunkElems = 16384;
  // Tensors per group: the pointer tables of one launch stay under 4 KB of kernel parameters.
  static constexpr int kGroupPlain = 96;    // 4 pointers per tensor
  static constexpr int kGroupBlocked = 48;  // 6 pointers + the block size per tensor

  std::vector<OptimTensor> tensors;
  std::vector<OptimChunk> chunks;  // grouped: the chunks of a group are contiguous
  std::vector<OptimGroup> groups;
  int64_t numel = 0;

  // Validates the sizes (throws bs::Error) and builds the list.
  static OptimWorklist build(int32_t n, const int64_t* rows, const int64_t* cols, const int32_t* dtypes,
                             const int64_t* block_elems);
};

}  // namespace bs
