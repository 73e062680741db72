/* A C99 program that uses an installed blocksparse, built by tests/install/install_test.sh through
 * find_package(blocksparse) and through pkg-config. Checks that the headers and the library agree
 * on the version, then runs one small bsmm_fprop on fresh random data against a float64 reference
 * (output poisoned with NaN first, so an unwritten element fails; fp32 bound 1e-5 of DESIGN.md §7). Exit status 0 = pass. */
#include <blocksparse/blocksparse.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CB = 3, KB = 2, B = 8, N = 5, C = CB * B, K = KB * B };

static unsigned long long rng_state;

/* Uniform in [-1, 1) from a 64-bit linear congruential generator (Knuth's MMIX constants). */
static float next_uniform(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static int fail(const char* what) {
  char msg[512];
  bs_get_last_error(msg, sizeof msg, NULL);
  fprintf(stderr, "consumer: %s failed: %s (%s)\n", what, bs_status_name(bs_get_last_status()), msg);
  return 1;
}

int main(void) {
  static const uint8_t layout[CB * KB] = {1, 0, 1, 1, 0, 1}; /* 4 blocks, row-major (c, k) */
  float x[N * C], w[4 * B * B], y[N * K];
  bsmm_params_t params;
  bsmm_plan_t plan = NULL;
  int64_t nnz = 0;
  size_t ws_bytes = 0;
  void* ws = NULL;
  bs_status_t st;
  double err2 = 0.0, ref2 = 0.0, rel_err;
  int n, j, i;

  if (bs_get_version() != BS_VERSION || strcmp(bs_get_version_string(), BS_VERSION_STRING) != 0) {
    fprintf(stderr, "consumer: library %s does not match headers %s\n", bs_get_version_string(), BS_VERSION_STRING);
    return 1;
  }
  printf("blocksparse %s\n%s", bs_get_version_string(), bs_get_build_info());

  rng_state = (unsigned long long)time(NULL);
  printf("seed %llu\n", rng_state);
  for (i = 0; i < N * C; ++i) x[i] = next_uniform();
  for (i = 0; i < 4 * B * B; ++i) w[i] = next_uniform();
  for (i = 0; i < N * K; ++i) y[i] = NAN;

  if (BSMM_PARAMS_INIT(&params) != BS_STATUS_SUCCESS) return fail("bsmm_params_init");
  params.block_size = B;
  if (bsmm_create(&plan, &params, layout, CB, KB) != BS_STATUS_SUCCESS) return fail("bsmm_create");
  if (bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz) != BS_STATUS_SUCCESS || nnz != 4) return fail("bsmm_get_attr");
  if (bsmm_get_workspace_size(plan, BSMM_OP_FPROP, N, &ws_bytes) != BS_STATUS_SUCCESS) return fail("bsmm_get_workspace_size");
  if (ws_bytes > 0 && (ws = malloc(ws_bytes)) == NULL) return 1;
  st = bsmm_fprop(plan, N, x, w, y, 1.0f, 0.0f, NULL, ws, ws_bytes, NULL);
  free(ws);
  if (st != BS_STATUS_SUCCESS) return fail("bsmm_fprop");

  /* Reference in float64: y[n, k*B + q] = sum over blocks (c, k) of x[n, c*B + p] * w[blk, p, q]. */
  for (n = 0; n < N; ++n) {
    for (j = 0; j < K; ++j) {
      double ref = 0.0;
      int blk = 0, c, k;
      for (c = 0; c < CB; ++c) {
        for (k = 0; k < KB; ++k) {
          if (!layout[c * KB + k]) continue;
          if (k == j / B) {
            int p;
            for (p = 0; p < B; ++p) ref += (double)x[n * C + c * B + p] * (double)w[(blk * B + p) * B + j % B];
          }
          ++blk;
        }
      }
      err2 += ((double)y[n * K + j] - ref) * ((double)y[n * K + j] - ref); /* NaN (unwritten) stays NaN */
      ref2 += ref * ref;
    }
  }
  bsmm_destroy(plan);
  rel_err = sqrt(err2 / ref2);
  printf("bsmm_fprop relative error %g\n", rel_err);
  if (!(rel_err <= 1e-5)) { /* fails on NaN too */
    fprintf(stderr, "consumer: bsmm_fprop result is wrong\n");
    return 1;
  }
  printf("consumer: OK\n");
  return 0;
}
