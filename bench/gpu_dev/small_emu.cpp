// Host emulation of the small-N path's index arithmetic (kernels/bsmm/small.cuh, small_finish.cu,
// small_lut.cu): every load / store / reduction index expression of the kernels transcribed
// verbatim, operands as doubles, products done logically on the emulated shared-memory tiles
// (the MMA fragment layouts are the tile engine's, validated on the GPU). It checks the tables, the
// record/stage/row mapping, padding, gates, the workspace layout and the finish kernel for every
// element size, block size, axis, direction and N <= 128, without a GPU. Keep it in step with the
// kernels when their indexing changes. Build and run from the repository root (after a configure):
//   g++ -O2 -std=c++17 -I. -Ilib -Iinclude -Ibuild/include -I/usr/local/cuda/include -x c++ \
//     kernels/bsmm/small_lut.cu -x c++ bench/gpu_dev/small_emu.cpp lib/layout/bsmm_layout.cpp \
//     lib/core/*.cpp -o /tmp/small_emu && /tmp/small_emu
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include "layout/bsmm_layout.hpp"
#include "kernels/bsmm/small_lut.hpp"
#include "kernels/bsmm/small.hpp"
using namespace bs; using namespace bs::cuda;
constexpr int small_ld(int n, int es) { return (n * es / 16) % 2 == 1 ? n : n + 16 / es; }
static int fails = 0, runs = 0;
static void run(int es, bool ffma, int B, int axis, bool bprop, long long N, int CB, int KB, double d, long long target, bool gated, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-1, 1), u01(0, 1);
  std::vector<uint8_t> mask(size_t(CB) * KB);
  for (auto& m : mask) m = u01(rng) < d;
  for (int c = 0; c < CB; ++c) mask[size_t(c) * KB + 1 % KB] = 1;  // a dense column
  BsmmLayout l = BsmmLayout::from_dense(mask.data(), CB, KB);
  const int KC = small_kc(es), kRps = small_recs_per_stage(B, es), kRows = B < KC ? B : KC, kSpr = B > KC ? B / KC : 1, kV = 16 / es;
  const int kLdAK = small_ld(KC, es), kLdAM = small_ld(kSmallTokens, es), kLdBN = small_ld(B, es), kLdBK = small_ld(KC, es);
  SmallLut lut = small_lut(l, bprop, kRps, target);
  const long long F_in = (bprop ? KB : CB) * (long long)B, F_out = (bprop ? CB : KB) * (long long)B;
  std::vector<double> in(N * F_in), w(l.nnz * B * B), out(N * F_out), gate(l.nnz);
  for (auto& v : in) v = u(rng);
  for (auto& v : w) v = u(rng);
  for (auto& v : out) v = u(rng);
  for (long long i = 0; i < l.nnz; ++i) gate[i] = i % 3 == 1 ? 0.0 : 0.5 + u01(rng);
  const double alpha = gated ? 0.75 : 1.0, beta = gated ? 0.5 : 0.0;
  auto act = [&](long long n, long long f, long long F) { return axis == 1 ? n * F + f : f * N + n; };
  // reference
  std::vector<double> ref(N * F_out);
  for (long long n = 0; n < N; ++n) for (long long f = 0; f < F_out; ++f) ref[act(n, f, F_out)] = beta * out[act(n, f, F_out)];
  for (long long i = 0; i < l.nnz; ++i) {
    const double g = gated ? gate[i] : 1.0; if (g == 0) continue;
    const long long c = l.block_rows[i], k = l.row_cols[i];
    for (long long n = 0; n < N; ++n) for (int r = 0; r < B; ++r) for (int s = 0; s < B; ++s) {
      const double wv = w[(i * B + r) * B + s] * g * alpha;
      if (!bprop) ref[act(n, k * B + s, F_out)] += in[act(n, c * B + r, F_in)] * wv;
      else ref[act(n, c * B + r, F_out)] += in[act(n, k * B + s, F_in)] * wv;
    }
  }
  const int tiles = int((N + kSmallTokens - 1) / kSmallTokens);
  std::vector<double> ws(lut.n_chunks * N * B, NAN);
  const bool AKM = axis == 0, BNK = bprop;
  for (long long bid = 0; bid < lut.n_chunks * tiles; ++bid) {
    const int q = int(bid / tiles); const long long n0 = (bid % tiles) * kSmallTokens;
    const int rb = lut.chunks[2 * q], rc = lut.chunks[2 * q + 1];
    if (rc % kRps || rc > kSmallMaxRecs || rc <= 0) { printf("bad rc %d\n", rc); ++fails; }
    std::vector<int> s_in(rc), s_blk(rc); std::vector<double> s_gate(rc);
    for (int i = 0; i < rc; ++i) {
      const int inb = lut.recs[2 * (rb + i)], blk = lut.recs[2 * (rb + i) + 1];
      const double g = blk < 0 ? 0.0 : (gated ? gate[blk] : 1.0);
      s_in[i] = g != 0 ? inb : -1; s_blk[i] = g != 0 ? blk : -1; s_gate[i] = g;
    }
    const int stages = rc / kRps * kSpr;
    std::vector<double> acc(64 * B, 0.0);  // logical [m][n]
    for (int st = 0; st < stages; ++st) {
      std::vector<double> As(std::max(kSmallTokens * kLdAK, KC * kLdAM), NAN), Bs(std::max(KC * kLdBN, B * kLdBK), NAN);
      const int r0 = st / kSpr * kRps, sub = st % kSpr * KC;
      for (int tid = 0; tid < kSmallThreads; ++tid) {
        if (!AKM) {
          const int kCpr = KC / kV, kTotal = kSmallTokens * kCpr;
          for (int uu = 0; uu < kTotal / kSmallThreads; ++uu) {
            const int c = tid + uu * kSmallThreads; const int m = c / kCpr, kk = (c % kCpr) * kV;
            const int ib = s_in[r0 + kk / kRows]; const long long n = n0 + m; const bool ok = ib >= 0 && n < N;
            const long long off = ok ? n * F_in + (long long)ib * B + sub + kk % kRows : 0;
            for (int v = 0; v < kV; ++v) As[m * kLdAK + kk + v] = ok ? in[off + v] : 0.0;
          }
        } else {
          const int kCpr = kSmallTokens / kV, kTotal = KC * kCpr;
          for (int uu = 0; uu < kTotal / kSmallThreads; ++uu) {
            const int c = tid + uu * kSmallThreads; const int kk = c / kCpr, m = (c % kCpr) * kV;
            const int ib = s_in[r0 + kk / kRows]; const long long n = n0 + m;
            double* dst = &As[kk * kLdAM + m];
            if (ib < 0 || n >= N) { for (int v = 0; v < kV; ++v) dst[v] = 0; }
            else { const long long row = ((long long)ib * B + sub + kk % kRows) * N;
              for (int v = 0; v < kV; ++v) dst[v] = n + v < N ? in[row + n + v] : 0.0; }
          }
        }
        if (!BNK) {
          const int kCpr = B / kV, kTotal = KC * kCpr;
          for (int uu = 0; uu < (kTotal + kSmallThreads - 1) / kSmallThreads; ++uu) {
            const int c = tid + uu * kSmallThreads; if (kTotal % kSmallThreads != 0 && c >= kTotal) break;
            const int kk = c / kCpr, n = (c % kCpr) * kV; const int blk = s_blk[r0 + kk / kRows];
            const long long off = blk >= 0 ? ((long long)blk * B + sub + kk % kRows) * B + n : 0;
            for (int v = 0; v < kV; ++v) Bs[kk * kLdBN + n + v] = blk >= 0 ? w[off + v] : 0.0;
          }
        } else {
          const int kCpr = KC / kV, kTotal = B * kCpr;
          for (int uu = 0; uu < (kTotal + kSmallThreads - 1) / kSmallThreads; ++uu) {
            const int c = tid + uu * kSmallThreads; if (kTotal % kSmallThreads != 0 && c >= kTotal) break;
            const int n = c / kCpr, kk = (c % kCpr) * kV; const int blk = s_blk[r0 + kk / kRows];
            const long long off = blk >= 0 ? ((long long)blk * B + n) * B + sub + kk % kRows : 0;
            for (int v = 0; v < kV; ++v) Bs[n * kLdBK + kk + v] = blk >= 0 ? w[off + v] : 0.0;
          }
        }
      }
      // compute (logical; gates as the kernels apply them)
      for (int k = 0; k < KC; ++k) {
        const int kb = k / 16 * 16;
        const double g = !gated ? 1.0 : ffma ? s_gate[r0 + k / kRows] : (k - kb < 8 ? s_gate[r0 + kb / kRows] : s_gate[r0 + (kb + 8) / kRows]);
        for (int m = 0; m < 64; ++m) {
          const double a = AKM ? As[k * kLdAM + m] : As[m * kLdAK + k];
          for (int n = 0; n < B; ++n) acc[m * B + n] += a * g * (BNK ? Bs[n * kLdBK + k] : Bs[k * kLdBN + n]);
        }
      }
    }
    for (int m = 0; m < 64; ++m) { const long long n = n0 + m; if (n >= N) continue;
      for (int j = 0; j < B; ++j) ws[(q * N + n) * B + j] = acc[m * B + j]; }
  }
  // finish
  std::vector<double> got = out;
  const int out_blocks = int(bprop ? CB : KB);
  for (long long bid = 0; bid < (long long)out_blocks * tiles; ++bid) {
    const int ob = int(bid / tiles); const long long n0 = (bid % tiles) * kSmallTokens;
    const int rows = int(N - n0 < kSmallTokens ? N - n0 : kSmallTokens); const int q0 = lut.ptr[ob], q1 = lut.ptr[ob + 1];
    std::vector<double> sum(64 * (B + 1));
    for (int e = 0; e < rows * B; ++e) { const int n = e / B, j = e % B; double s = 0; for (int q = q0; q < q1; ++q) s += ws[(q * N + n0 + n) * B + j]; sum[n * (B + 1) + j] = s; }
    for (int e = 0; e < rows * B; ++e) {
      const int n = axis == 1 ? e / B : e % rows, j = axis == 1 ? e % B : e / rows;
      const long long f = (long long)ob * B + j; const long long idx = axis == 1 ? (n0 + n) * F_out + f : f * N + n0 + n;
      const double a = alpha * sum[n * (B + 1) + j]; got[idx] = beta != 0 ? a + beta * got[idx] : a;
    }
  }
  double num = 0, den = 0; bool nan = false;
  for (size_t i = 0; i < ref.size(); ++i) { if (!std::isfinite(got[i])) nan = true; num += (got[i] - ref[i]) * (got[i] - ref[i]); den += ref[i] * ref[i]; }
  ++runs;
  if (nan || num > 1e-20 * den) { ++fails; printf("FAIL es=%d ffma=%d B=%d axis=%d bprop=%d N=%lld target=%lld gated=%d chunks=%lld rel=%g nan=%d\n", es, ffma, B, axis, bprop, N, target, gated, (long long)lut.n_chunks, std::sqrt(num / den), nan); }
}
int main() {
  std::mt19937 rng(7);
  for (int es : {2, 4}) for (int B : {8, 16, 32, 64, 128}) for (int axis : {0, 1}) for (int bp : {0, 1})
    for (long long N : {1LL, 17LL, 64LL, 100LL, 128LL}) for (long long target : {3LL, 528LL}) {
      const int side = B >= 64 ? 3 : 9;
      run(es, es == 4, B, axis, bp, N, side, side + 2, 0.5, target, (N + B + axis) % 2 == 0, rng);
    }
  printf("emu: %d runs, %d failed\n", runs, fails);
  return fails != 0;
}
