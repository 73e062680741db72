#pragma once
// Host-side plan building for bsconv: the validated geometry in convolution terms (a deconvolution
// is stored as the convolution it transposes) and the lookup tables every backend walks.
#include <cstdint>
#include <vector>

namespace bs {

// The convolution a plan computes or transposes. Channels and sizes are the convolution's own:
// `Cc` input channels of spatial size X, `Kc` output channels of size Y.
struct ConvGeometry {
  int64_t Cc = 0, Kc = 0;
  int64_t X[3] = {1, 1, 1}, Y[3] = {1, 1, 1};
  int64_t T[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
  int64_t x_size() const { return X[0] * X[1] * X[2]; }
  int64_t y_size() const { return Y[0] * Y[1] * Y[2]; }
  int64_t taps() const { return T[0] * T[1] * T[2]; }
};

// Blocks in convolution terms: block b maps conv input channels cin[cin_ptr[b]..] to conv output
// channels cout[cout_ptr[b]..]; its filter is (|cout|, |cin|, T, R, S) at element blk_off[b].
struct ConvLayout {
  ConvGeometry g;
  bool deconv = false;
  int64_t n_blocks = 0, filter_size = 0;
  std::vector<int64_t> blk_off, cin_ptr, cin, cout_ptr, cout;
  // Per conv output channel: the (block, row) pairs that produce it, in block order.
  std::vector<int64_t> out_ptr, out_blk, out_row;
  // Per conv input channel: the (block, column) pairs that read it, in block order.
  std::vector<int64_t> in_ptr, in_blk, in_col;
  // Edge bias over the plan's output positions: entry of each position (-1: no tap in padding),
  // and the positions of each entry.
  int64_t edge_entries = 0;
  std::vector<int64_t> edge_of_pos, edge_pos_ptr, edge_pos;
  // Weight-normalisation rows: one per (block, plan output channel): elements
  // base + i*stride (+ tap) for i < count, taps contiguous; rows of each plan output channel.
  std::vector<int64_t> row_base, row_count, row_stride, row_k, k_row_ptr, k_rows;
};

// Builds the tables from validated geometry and blocks given in the plan's own terms
// (for a deconvolution c_idx are its input channels). Throws BS_STATUS_INVALID_LAYOUT for empty
// blocks, channels out of range or repeated within a block.
ConvLayout make_conv_layout(const ConvGeometry& g, bool deconv, int64_t n_blocks, const int64_t* c_ptr,
                            const int64_t* c_idx, const int64_t* k_ptr, const int64_t* k_idx);

}  // namespace bs
