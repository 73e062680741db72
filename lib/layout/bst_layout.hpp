#pragma once
// A validated block-sparse attention layout and the lookup tables every backend derives its plans
// from (host code, unit-tested in the CPU-only build).
//
// Layout blocks are numbered head-major, then row-major in (query block, key block): the original's
// nt_lut order. Two compressed views index them, per layout head lh:
//  - by query block row i (the original's nn_lut): row_ptr[lh*QB + i] .. row_ptr[lh*QB + i + 1],
//    key block col_of[g] of layout block g (the block id is the position);
//  - by key block column j (tn_lut): col_ptr[lh*KB + j] .. col_ptr[lh*KB + j + 1], entries
//    (col_row[e], col_block[e]) sorted by query block.
// Score blocks (the unfused ops' tensors) repeat the layout blocks of each head's layout head:
// score block of head h and layout block g = head_base[h] + g - first_block(layout_head(h)).
#include <cstdint>
#include <vector>

namespace bs {

struct BstLayout {
  int64_t H = 0, layout_heads = 0, QB = 0, KB = 0, b = 0;
  int64_t layout_blocks = 0, score_blocks = 0;
  int64_t max_row = 0, max_col = 0;
  std::vector<int64_t> row_ptr;    // layout_heads*QB + 1
  std::vector<int32_t> col_of;     // layout_blocks: key block of layout block g
  std::vector<int32_t> row_of;     // layout_blocks: query block of layout block g
  std::vector<int64_t> col_ptr;    // layout_heads*KB + 1
  std::vector<int32_t> col_row;    // layout_blocks: query block of column entry e
  std::vector<int64_t> col_block;  // layout_blocks: layout block of column entry e
  std::vector<int64_t> head_base;  // H + 1
  std::vector<uint8_t> masks;      // layout_blocks * b * b/8 bits (empty: every key allowed)

  // Validate and build from a dense (layout_heads, QB, KB) 0/1 byte array. Throws bs::Error.
  static BstLayout from_dense(const uint8_t* layout, int64_t H, int64_t layout_heads, int64_t QB, int64_t KB,
                              int64_t b);
  // Validate and build from per-row counts and key-block indices (any order, no repeats).
  static BstLayout from_kv_blocks(const int32_t* kv_num_blocks, const int32_t* kv_indices, int64_t stride,
                                  int64_t H, int64_t layout_heads, int64_t QB, int64_t KB, int64_t b);
  // Copies the block masks (layout_blocks * b * b/8 bytes) when given.
  void set_masks(const uint8_t* block_masks);

  int64_t layout_head(int64_t h) const { return layout_heads == 1 ? 0 : h; }
  int64_t first_block(int64_t lh) const { return row_ptr[lh * QB]; }
  int64_t score_block(int64_t h, int64_t g) const { return head_base[h] + g - first_block(layout_head(h)); }
  int64_t mask_row_bytes() const { return b / 8; }
  // Bit mask of query row r of layout block g (b/8 bytes), or null without masks.
  const uint8_t* mask_row(int64_t g, int64_t r) const {
    return masks.empty() ? nullptr : masks.data() + (g * b + r) * mask_row_bytes();
  }

  // (head, query block) pairs ordered by their number of key blocks, longest first (ties by head,
  // then block): the order the fused forward and dq passes hand work out. Likewise (head, key
  // block) pairs by column length for the dk/dv pass.
  std::vector<int64_t> rows_longest_first() const;  // entries h*QB + i
  std::vector<int64_t> cols_longest_first() const;  // entries h*KB + j

 private:
  void build(std::vector<std::vector<int32_t>> rows);
};

}  // namespace bs
