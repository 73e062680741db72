#pragma once
// Float64 reference of block-sparse attention (bst.h): the dense (batch, H, Sq, Sk) matrix of
// allowed (query, key) pairs built from the layout, block masks and causality, then every op and
// gradient in double on dense tensors, independently of the library's block loops.
#include <cstdint>
#include <vector>

namespace bs_test {

struct BstCase {
  int64_t batch = 2, H = 2, layout_heads = 2, QB = 3, KB = 4, b = 8, D = 16;
  int32_t format = 0;  // bst_format_t
  int32_t causal = 0;
  int64_t prefix = 0;
  std::vector<uint8_t> layout;  // (layout_heads, QB, KB)
  std::vector<uint8_t> masks;   // (layout_blocks, b, b/8) or empty
  int64_t Sq() const { return QB * b; }
  int64_t Sk() const { return KB * b; }
};

class BstReference {
 public:
  explicit BstReference(const BstCase& c);

  // allowed(h, s, t) over the dense matrix of one batch element.
  bool allowed(int64_t h, int64_t s, int64_t t) const { return allowed_[(h * c_.Sq() + s) * c_.Sk() + t] != 0; }
  bool in_layout(int64_t h, int64_t s, int64_t t) const;

  // Element offset of (n, s, h, d=0) in a tensor of S positions, in the case's format.
  int64_t offset(int64_t n, int64_t s, int64_t h, int64_t S) const;

  // Score blocks of one batch element, in bst.h's block order: (h, i, j).
  struct Block {
    int64_t h, i, j;
  };
  const std::vector<Block>& blocks() const { return blocks_; }

  // Dense probabilities of the fused forward, per (n, h, s, t) (0 where not allowed) and lse.
  void softmax(const std::vector<double>& q, const std::vector<double>& k, double scale, std::vector<double>& P,
               std::vector<double>& lse) const;
  // Fused forward and backward (Z = dropout factors per dense element, empty for none).
  void fprop(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v, double scale,
             const std::vector<double>& Z, std::vector<double>& o, std::vector<double>& lse) const;
  void bprop(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
             const std::vector<double>& dout, double scale, const std::vector<double>& Z, std::vector<double>& dq,
             std::vector<double>& dk, std::vector<double>& dv) const;

  // Unfused ops on score tensors (batch, score_blocks, b, b).
  std::vector<double> sdd(const std::vector<double>& a, const std::vector<double>& bt) const;
  std::vector<double> block_softmax(const std::vector<double>& scores, double scale) const;
  std::vector<double> block_softmax_grad(const std::vector<double>& probs, const std::vector<double>& dprobs,
                                         double scale) const;
  std::vector<double> dsd(const std::vector<double>& scores, const std::vector<double>& bt) const;
  std::vector<double> dsd_t(const std::vector<double>& scores, const std::vector<double>& a) const;

 private:
  BstCase c_;
  std::vector<uint8_t> allowed_;  // (H, Sq, Sk)
  std::vector<Block> blocks_;
  std::vector<int64_t> mask_block_;  // (layout head, i, j) -> layout block number, -1 if absent
};

}  // namespace bs_test
