/*
 * The Rosetta example, C version: one block-sparse layer y = x·W computed through the C API, with
 * the layout, weights and input made by the integer generator that every language of this folder
 * implements identically (README.md). Prints the checksum line that all versions must print, and
 * checks y against a float64 dense product (exit 1 if they differ).
 */
#include <blocksparse/blocksparse.h>

#include <stdio.h>
#include <stdlib.h>

enum { SEED = 2024, B = 16, CB = 6, KB = 5, N = 7 };

/* lowbias32 of (seed, i): the one generator of the example. */
static uint32_t rosetta_hash(uint32_t seed, uint32_t i) {
  uint32_t x = i * 0x9E3779B1u + seed;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

/* A multiple of 1/8 in [-1, 1]: every product and partial sum below is exact in fp32. */
static float rosetta_value(uint32_t stream, uint32_t i) {
  return (float)((int)((rosetta_hash(SEED * 4u + stream, i) >> 8) % 17u) - 8) / 8.0f;
}

static int fail(const char* what, bs_status_t st) {
  char msg[512];
  bs_get_last_error(msg, sizeof msg, NULL);
  fprintf(stderr, "%s: %s: %s\n", what, bs_status_name(st), msg);
  return 1;
}

int main(void) {
  uint8_t layout[CB * KB];
  for (uint32_t c = 0; c < CB; ++c)
    for (uint32_t k = 0; k < KB; ++k)
      layout[c * KB + k] = (uint8_t)(rosetta_hash(SEED * 4u, c * KB + k) % 3u == 0 || c % KB == k % CB);

  bsmm_params_t params;
  BSMM_PARAMS_INIT(&params);
  params.block_size = B;
  bsmm_plan_t plan = NULL;
  bs_status_t st = bsmm_create(&plan, &params, layout, CB, KB);
  if (st != BS_STATUS_SUCCESS) return fail("bsmm_create", st);

  int64_t nnz = 0;
  bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz);
  const int64_t C = CB * B, K = KB * B, wlen = nnz * B * B;
  float* w = malloc((size_t)wlen * sizeof(float));
  float* x = malloc((size_t)(N * C) * sizeof(float));
  float* y = malloc((size_t)(N * K) * sizeof(float));
  double* dense = calloc((size_t)(C * K), sizeof(double));
  size_t ws_bytes = 0;
  bsmm_get_workspace_size(plan, BSMM_OP_FPROP, N, &ws_bytes);
  void* ws = malloc(ws_bytes ? ws_bytes : 1);
  if (!w || !x || !y || !dense || !ws) return fprintf(stderr, "out of memory\n"), 1;
  for (int64_t j = 0; j < wlen; ++j) w[j] = rosetta_value(1, (uint32_t)j);
  for (int64_t j = 0; j < N * C; ++j) x[j] = rosetta_value(2, (uint32_t)j);

  st = bsmm_fprop(plan, N, x, w, y, 1.0f, 0.0f, NULL, ws, ws_bytes, NULL);
  if (st != BS_STATUS_SUCCESS) return fail("bsmm_fprop", st);

  /* Float64 reference through the dense weight matrix. */
  for (int64_t i = 0; i < nnz; ++i) {
    int64_t c, k;
    bsmm_block_coord(plan, i, &c, &k);
    for (int r = 0; r < B; ++r)
      for (int s = 0; s < B; ++s) dense[(c * B + r) * K + k * B + s] = w[(i * B + r) * B + s];
  }
  int bad = 0;
  double checksum = 0.0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      double ref = 0.0;
      for (int64_t c = 0; c < C; ++c) ref += (double)x[n * C + c] * dense[c * K + k];
      const float got = y[n * K + k];
      if ((double)got != ref) bad = 1; /* exact: every value is a small multiple of 1/64 */
      checksum += (double)got * (double)((n * K + k) % 7 + 1);
    }
  printf("rosetta N=%d C=%lld K=%lld nnz=%lld checksum=%.6f\n", N, (long long)C, (long long)K, (long long)nnz,
         checksum);
  if (bad) fprintf(stderr, "y differs from the float64 reference\n");

  bsmm_destroy(plan);
  free(w);
  free(x);
  free(y);
  free(dense);
  free(ws);
  return bad;
}
