#include "layout/bsconv_layout.hpp"

#include <array>
#include <map>

#include "core/checks.hpp"

namespace bs {
namespace {

// Validates one block's channel list and appends it to `idx`.
void add_channels(const int64_t* ptr, const int64_t* list, int64_t b, int64_t limit, const char* what,
                  std::vector<int64_t>& out_ptr, std::vector<int64_t>& idx, std::vector<uint8_t>& seen) {
  const int64_t lo = ptr[b], hi = ptr[b + 1];
  for (int64_t e = lo; e < hi; ++e) {
    const int64_t c = list[e];
    if (c < 0 || c >= limit)
      fail(BS_STATUS_INVALID_LAYOUT, "block ", b, ": ", what, " channel ", c, " is outside [0, ", limit, ")");
    if (seen[c]) fail(BS_STATUS_INVALID_LAYOUT, "block ", b, ": ", what, " channel ", c, " appears twice");
    seen[c] = 1;
    idx.push_back(c);
  }
  for (int64_t e = lo; e < hi; ++e) seen[list[e]] = 0;
  out_ptr.push_back(static_cast<int64_t>(idx.size()));
}

// CSR of (owner -> items) from a list of owners, keeping item order.
void group(int64_t owners, const std::vector<int64_t>& owner_of, std::vector<int64_t>& ptr,
           std::vector<int64_t>& order) {
  ptr.assign(owners + 1, 0);
  for (int64_t o : owner_of) ++ptr[o + 1];
  for (int64_t i = 0; i < owners; ++i) ptr[i + 1] += ptr[i];
  std::vector<int64_t> fill(ptr.begin(), ptr.end() - 1);
  order.assign(owner_of.size(), 0);
  for (size_t i = 0; i < owner_of.size(); ++i) order[fill[owner_of[i]]++] = static_cast<int64_t>(i);
}

// Per dimension d and plan output coordinate o: the taps that fall into padding.
std::vector<int64_t> padded_taps(const ConvGeometry& g, bool deconv, int d, int64_t o) {
  std::vector<int64_t> taps;
  for (int64_t t = 0; t < g.T[d]; ++t) {
    if (!deconv) {
      const int64_t x = o * g.stride[d] - g.pad[d] + t * g.dil[d];
      if (x < 0 || x >= g.X[d]) taps.push_back(t);
    } else {
      const int64_t q = o + g.pad[d] - t * g.dil[d];
      const int64_t s = g.stride[d];
      if (((q % s) + s) % s != 0) continue;
      const int64_t m = (q - (((q % s) + s) % s)) / s;
      if (m < 0 || m >= g.Y[d]) taps.push_back(t);
    }
  }
  return taps;
}

void build_edges(ConvLayout& l) {
  const ConvGeometry& g = l.g;
  const int64_t* O = l.deconv ? g.X : g.Y;
  std::vector<int64_t> pat[3];  // pattern id per coordinate, 0 = no padded tap
  for (int d = 0; d < 3; ++d) {
    std::map<std::vector<int64_t>, int64_t> ids{{{}, 0}};
    for (int64_t o = 0; o < O[d]; ++o) {
      auto taps = padded_taps(g, l.deconv, d, o);
      auto it = ids.emplace(taps, static_cast<int64_t>(ids.size())).first;
      pat[d].push_back(it->second);
    }
  }
  std::map<std::array<int64_t, 3>, int64_t> entries;
  std::vector<int64_t> owner;
  std::vector<int64_t> owner_pos;
  for (int64_t a = 0; a < O[0]; ++a)
    for (int64_t b = 0; b < O[1]; ++b)
      for (int64_t c = 0; c < O[2]; ++c) {
        const std::array<int64_t, 3> key{pat[0][a], pat[1][b], pat[2][c]};
        int64_t e = -1;
        if (key[0] || key[1] || key[2]) {
          e = entries.emplace(key, static_cast<int64_t>(entries.size())).first->second;
          owner.push_back(e);
          owner_pos.push_back(static_cast<int64_t>(l.edge_of_pos.size()));
        }
        l.edge_of_pos.push_back(e);
      }
  l.edge_entries = static_cast<int64_t>(entries.size());
  std::vector<int64_t> order;
  group(l.edge_entries, owner, l.edge_pos_ptr, order);
  for (int64_t i : order) l.edge_pos.push_back(owner_pos[i]);
}

void build_norm_rows(ConvLayout& l, int64_t K) {
  const int64_t taps = l.g.taps();
  std::vector<int64_t> owner;
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const int64_t nin = l.cin_ptr[b + 1] - l.cin_ptr[b], nout = l.cout_ptr[b + 1] - l.cout_ptr[b];
    if (!l.deconv) {
      for (int64_t i = 0; i < nout; ++i) {  // conv output channel = plan output channel
        l.row_base.push_back(l.blk_off[b] + i * nin * taps);
        l.row_count.push_back(nin);
        l.row_stride.push_back(taps);
        l.row_k.push_back(l.cout[l.cout_ptr[b] + i]);
      }
    } else {
      for (int64_t j = 0; j < nin; ++j) {  // conv input channel = plan output channel
        l.row_base.push_back(l.blk_off[b] + j * taps);
        l.row_count.push_back(nout);
        l.row_stride.push_back(nin * taps);
        l.row_k.push_back(l.cin[l.cin_ptr[b] + j]);
      }
    }
  }
  group(K, l.row_k, l.k_row_ptr, l.k_rows);
}

}  // namespace

ConvLayout make_conv_layout(const ConvGeometry& g, bool deconv, int64_t n_blocks, const int64_t* c_ptr,
                            const int64_t* c_idx, const int64_t* k_ptr, const int64_t* k_idx) {
  ConvLayout l;
  l.g = g;
  l.deconv = deconv;
  l.n_blocks = n_blocks;
  if (c_ptr[0] != 0) fail(BS_STATUS_INVALID_LAYOUT, "c_ptr[0] must be 0 (got ", c_ptr[0], ")");
  if (k_ptr[0] != 0) fail(BS_STATUS_INVALID_LAYOUT, "k_ptr[0] must be 0 (got ", k_ptr[0], ")");
  // Plan terms -> conv terms: a deconvolution's input channels are its convolution's outputs.
  const int64_t *in_ptr = deconv ? k_ptr : c_ptr, *in_idx = deconv ? k_idx : c_idx;
  const int64_t *out_ptr = deconv ? c_ptr : k_ptr, *out_idx = deconv ? c_idx : k_idx;
  const char* in_name = deconv ? "k" : "c";
  const char* out_name = deconv ? "c" : "k";
  std::vector<uint8_t> seen_in(g.Cc, 0), seen_out(g.Kc, 0);
  l.cin_ptr.push_back(0);
  l.cout_ptr.push_back(0);
  const int64_t taps = g.taps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    if (c_ptr[b + 1] <= c_ptr[b]) fail(BS_STATUS_INVALID_LAYOUT, "block ", b, " has no c channel (c_ptr must increase)");
    if (k_ptr[b + 1] <= k_ptr[b]) fail(BS_STATUS_INVALID_LAYOUT, "block ", b, " has no k channel (k_ptr must increase)");
    add_channels(in_ptr, in_idx, b, g.Cc, in_name, l.cin_ptr, l.cin, seen_in);
    add_channels(out_ptr, out_idx, b, g.Kc, out_name, l.cout_ptr, l.cout, seen_out);
    const int64_t nin = l.cin_ptr[b + 1] - l.cin_ptr[b], nout = l.cout_ptr[b + 1] - l.cout_ptr[b];
    l.blk_off.push_back(l.filter_size);
    l.filter_size = checked_add(l.filter_size, checked_mul(checked_mul(nin, nout, "block size"), taps, "block size"),
                                "filter size");
  }
  checked_bytes(l.filter_size, 4, "filter size");
  // Entries (block, position in the block's list) grouped by channel, in block order.
  auto by_channel = [&](int64_t channels, const std::vector<int64_t>& ptr, const std::vector<int64_t>& idx,
                        std::vector<int64_t>& cptr, std::vector<int64_t>& blk, std::vector<int64_t>& at) {
    std::vector<int64_t> owner, order, b_of, at_of;
    for (int64_t b = 0; b < n_blocks; ++b)
      for (int64_t e = ptr[b]; e < ptr[b + 1]; ++e) {
        owner.push_back(idx[e]);
        b_of.push_back(b);
        at_of.push_back(e - ptr[b]);
      }
    group(channels, owner, cptr, order);
    for (int64_t i : order) blk.push_back(b_of[i]), at.push_back(at_of[i]);
  };
  by_channel(g.Kc, l.cout_ptr, l.cout, l.out_ptr, l.out_blk, l.out_row);
  by_channel(g.Cc, l.cin_ptr, l.cin, l.in_ptr, l.in_blk, l.in_col);
  build_edges(l);
  build_norm_rows(l, deconv ? g.Cc : g.Kc);
  return l;
}

}  // namespace bs
