/*
 * The example of the original blocksparse README, in C: a 4096 x 4096 weight matrix with a random
 * 128 x 128 layout of 32 x 32 blocks (each block present with probability 1/2), applied to a
 * minibatch of 64 with bsmm_fprop. The result is checked against the dense product computed in
 * double precision; the program prints the relative error and exits non-zero on a mismatch.
 *
 * Build: cc readme_example.c -lblocksparse   (or the examples/ CMake target readme_example)
 */
#include <blocksparse/blocksparse.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { HIDDEN = 4096, BLOCK = 32, MINIBATCH = 64, BLOCKS = HIDDEN / BLOCK };

/* Reports a failed call with the library's status name and detailed message. */
static int check(bs_status_t status, const char* what) {
  if (status == BS_STATUS_SUCCESS) return 0;
  char msg[512];
  bs_get_last_error(msg, sizeof msg, NULL);
  fprintf(stderr, "%s failed: %s: %s\n", what, bs_status_name(status), msg);
  return 1;
}

/* xorshift64*: a small fixed-seed generator so that the example needs nothing but libc. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}
/* Uniform in [-1, 1). */
static float next_float(void) { return (float)((double)(next_u64() >> 11) * 0x1.0p-53 * 2.0 - 1.0); }

int main(void) {
  int failed = 1;
  bsmm_plan_t plan = NULL;
  uint8_t* layout = malloc((size_t)BLOCKS * BLOCKS);
  float *x = NULL, *w = NULL, *y = NULL, *dense = NULL;
  double* ref = NULL;
  void* workspace = NULL;

  /* A random layout, like numpy.random.randint(2, size=(128, 128)) in the original. */
  for (int i = 0; i < BLOCKS * BLOCKS; ++i) layout[i] = (uint8_t)(next_u64() >> 63);

  bsmm_params_t params;
  if (check(BSMM_PARAMS_INIT(&params), "bsmm_params_init")) goto done;
  params.block_size = BLOCK; /* CPU backend, feature_axis 1 (x is N x C), fp32: the defaults */
  if (check(bsmm_create(&plan, &params, layout, BLOCKS, BLOCKS), "bsmm_create")) goto done;

  int64_t w_shape[3], nnz;
  if (check(bsmm_get_weight_shape(plan, w_shape), "bsmm_get_weight_shape")) goto done;
  nnz = w_shape[0];
  size_t ws_bytes = 0;
  if (check(bsmm_get_workspace_size(plan, BSMM_OP_FPROP, MINIBATCH, &ws_bytes), "bsmm_get_workspace_size"))
    goto done;

  x = malloc(sizeof(float) * MINIBATCH * HIDDEN);
  w = malloc(sizeof(float) * (size_t)nnz * BLOCK * BLOCK);
  y = malloc(sizeof(float) * MINIBATCH * HIDDEN);
  dense = calloc((size_t)HIDDEN * HIDDEN, sizeof(float));
  ref = calloc((size_t)MINIBATCH * HIDDEN, sizeof(double));
  workspace = ws_bytes ? malloc(ws_bytes) : NULL;
  if (!x || !w || !y || !dense || !ref || (ws_bytes && !workspace)) {
    fprintf(stderr, "out of memory\n");
    goto done;
  }
  for (int64_t i = 0; i < (int64_t)MINIBATCH * HIDDEN; ++i) x[i] = next_float();
  for (int64_t i = 0; i < nnz * BLOCK * BLOCK; ++i) w[i] = next_float();
  for (int64_t i = 0; i < (int64_t)MINIBATCH * HIDDEN; ++i) y[i] = NAN; /* every element must be written */

  /* y = x · W */
  if (check(bsmm_fprop(plan, MINIBATCH, x, w, y, 1.0f, 0.0f, NULL, workspace, ws_bytes, NULL), "bsmm_fprop"))
    goto done;

  /* The dense W: block i is W[c*32:(c+1)*32, k*32:(k+1)*32], (c, k) = bsmm_block_coord(i). */
  for (int64_t i = 0; i < nnz; ++i) {
    int64_t c, k;
    if (check(bsmm_block_coord(plan, i, &c, &k), "bsmm_block_coord")) goto done;
    for (int r = 0; r < BLOCK; ++r)
      for (int s = 0; s < BLOCK; ++s)
        dense[(size_t)(c * BLOCK + r) * HIDDEN + (size_t)(k * BLOCK + s)] = w[(i * BLOCK + r) * BLOCK + s];
  }
  /* ref = x · W in double */
  for (int n = 0; n < MINIBATCH; ++n)
    for (int c = 0; c < HIDDEN; ++c) {
      const double xv = x[(size_t)n * HIDDEN + c];
      const float* row = dense + (size_t)c * HIDDEN;
      double* out = ref + (size_t)n * HIDDEN;
      for (int k = 0; k < HIDDEN; ++k) out[k] += xv * row[k];
    }
  double err2 = 0.0, ref2 = 0.0;
  for (int64_t i = 0; i < (int64_t)MINIBATCH * HIDDEN; ++i) {
    const double d = (double)y[i] - ref[i];
    err2 += d * d; /* a NaN (unwritten element) makes the error NaN, which fails below */
    ref2 += ref[i] * ref[i];
  }
  const double rel = sqrt(err2 / ref2);
  printf("bsmm_fprop: hidden %d, block %d, minibatch %d, %lld of %d blocks (%.1f%%)\n", HIDDEN, BLOCK, MINIBATCH,
         (long long)nnz, BLOCKS * BLOCKS, 100.0 * (double)nnz / (BLOCKS * BLOCKS));
  printf("relative error vs dense double: %.3e (bound 1e-5)\n", rel);
  if (!(rel <= 1e-5)) {
    fprintf(stderr, "MISMATCH\n");
    goto done;
  }
  printf("OK\n");
  failed = 0;

done:
  bsmm_destroy(plan);
  free(layout);
  free(x);
  free(w);
  free(y);
  free(dense);
  free(ref);
  free(workspace);
  return failed;
}
