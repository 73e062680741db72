// GPU bandwidth benchmark of layernorm and the small ops against a device-to-device copy measured
// in the same run. Each sample times kBatch back-to-back calls between two CUDA events (the device
// time per call, with the host-side cost of the next launch hidden behind the running kernel, as in
// a framework's stream); median of 20 samples after 3 warm-ups, on buffers much larger than L2.
// Prints a Markdown table; the device name heads it. Not a test: nothing here fails.
#include <blocksparse/blocksparse.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

namespace {

constexpr int kBatch = 10;

float median_ms(const std::function<void()>& f) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < 3; ++i) f();
  std::vector<float> t;
  for (int i = 0; i < 20; ++i) {
    cudaEventRecord(a);
    for (int k = 0; k < kBatch; ++k) f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms / kBatch);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void* dev(size_t bytes) {
  void* p = nullptr;
  cudaMalloc(&p, bytes);
  cudaMemset(p, 0x3c, bytes);  // ~1.0 in fp16/bf16, a finite pattern in fp32
  return p;
}

void row(const char* what, double bytes, float ms, double copy_tbs) {
  const double tbs = bytes / (ms * 1e-3) / 1e12;
  std::printf("| %s | %.1f | %.2f | %.0f%% |\n", what, ms * 1e3, tbs, 100 * tbs / copy_tbs);
}

}  // namespace

int main() {
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("# blocksparse ops bandwidth on %s\n\n", prop.name);
  const int64_t N = 16384, K = 4096, n = N * K;
  void* a = dev(n * 4);
  void* b = dev(n * 4);
  void* c = dev(n * 4);
  void* d = dev(n * 4);
  float* g = static_cast<float*>(dev(K * 4));
  float* bi = static_cast<float*>(dev(K * 4));
  float* m = static_cast<float*>(dev(N * 4));
  float* r = static_cast<float*>(dev(N * 4));
  float* dg = static_cast<float*>(dev(K * 4));
  float* db = static_cast<float*>(dev(K * 4));
  uint32_t* mask = static_cast<uint32_t*>(dev(n / 8));
  cudaMemset(g, 0, K * 4);
  cudaMemset(bi, 0, K * 4);
  const float copy_ms = median_ms([&] { cudaMemcpyAsync(b, a, n * 4, cudaMemcpyDeviceToDevice); });
  const double copy_tbs = 2.0 * n * 4 / (copy_ms * 1e-3) / 1e12;
  std::printf("D2D copy of %lld MB: %.1f us = %.2f TB/s (read + write)\n\n", static_cast<long long>(n * 4 >> 20),
              copy_ms * 1e3, copy_tbs);
  std::printf("| op (16384 x 4096) | us | TB/s | of copy |\n|---|---|---|---|\n");
  for (bs_dtype_t dt : {BS_DTYPE_F32, BS_DTYPE_BF16}) {
    const double e = dt == BS_DTYPE_F32 ? 4 : 2;
    const char* name = dt == BS_DTYPE_F32 ? "fp32" : "bf16";
    layernorm_params_t p;
    LAYERNORM_PARAMS_INIT(&p);
    p.backend = BS_BACKEND_CUDA;
    p.dtype = dt;
    p.K = K;
    layernorm_plan_t plan;
    size_t wsb = 0;
    if (layernorm_create(&plan, &p) != BS_STATUS_SUCCESS ||
        layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, N, &wsb) != BS_STATUS_SUCCESS)
      return 1;
    void* ws = wsb ? dev(wsb) : nullptr;  // dgain/dbias partials of the backward
    bs_status_t st = BS_STATUS_SUCCESS;
    char label[128];
    const float f = median_ms([&] { st = std::max(st, layernorm_fprop(plan, N, a, g, bi, b, m, r, nullptr, 0, nullptr)); });
    std::snprintf(label, sizeof label, "layernorm fprop %s", name);
    row(label, 2 * n * e, f, copy_tbs);
    const float bx = median_ms([&] {
      st = std::max(st, layernorm_bprop(plan, N, c, a, g, bi, m, r, d, nullptr, nullptr, ws, wsb, nullptr));
    });
    std::snprintf(label, sizeof label, "layernorm bprop dx only %s", name);
    row(label, 3 * n * e, bx, copy_tbs);
    const float bp = median_ms([&] { st = std::max(st, layernorm_bprop(plan, N, c, a, g, bi, m, r, d, dg, db, ws, wsb, nullptr)); });
    if (st != BS_STATUS_SUCCESS) {  // a failed call would time as a few microseconds: never print that
      std::printf("layernorm %s failed: %s\n", name, bs_status_name(st));
      return 1;
    }
    std::snprintf(label, sizeof label, "layernorm bprop dx+dgain+dbias %s", name);
    row(label, 3 * n * e, bp, copy_tbs);
    std::printf("| layernorm fprop+bprop %s (total) | %.1f | | |\n", name, (f + bp) * 1e3);
    layernorm_destroy(plan);
    cudaFree(ws);
    std::snprintf(label, sizeof label, "ew unary gelu %s", name);
    row(label, 2 * n * e, median_ms([&] { bs_ew_unary(BS_BACKEND_CUDA, BS_EW_GELU, dt, n, a, 0.044715f, b, nullptr); }), copy_tbs);
    std::snprintf(label, sizeof label, "ew binary add %s", name);
    row(label, 3 * n * e, median_ms([&] { bs_ew_binary(BS_BACKEND_CUDA, BS_EW_ADD, dt, N, K, a, c, 0, b, nullptr); }), copy_tbs);
    std::snprintf(label, sizeof label, "ew unary grad tanh %s", name);
    row(label, 3 * n * e, median_ms([&] { bs_ew_unary_grad(BS_BACKEND_CUDA, BS_EW_TANH, dt, n, a, c, 0, b, nullptr); }), copy_tbs);
    std::snprintf(label, sizeof label, "bias_act fast_gelu %s", name);
    row(label, 2 * n * e, median_ms([&] { bs_bias_act(BS_BACKEND_CUDA, BS_ACT_FAST_GELU, dt, 1, N, K, a, bi, b, nullptr); }), copy_tbs);
    std::snprintf(label, sizeof label, "dropout fprop + mask %s", name);
    row(label, 2 * n * e + n / 8.0, median_ms([&] { bs_dropout_fprop(BS_BACKEND_CUDA, dt, n, a, 0.9f, 1, 0, b, mask, nullptr); }), copy_tbs);
    std::snprintf(label, sizeof label, "dropout apply %s", name);
    row(label, 2 * n * e + n / 8.0, median_ms([&] { bs_dropout_apply(BS_BACKEND_CUDA, dt, n, a, mask, 0.9f, b, nullptr); }), copy_tbs);
    // LSTM: N x 1024 cells, h (N, 4096)
    const int64_t Kc = K / 4;
    std::snprintf(label, sizeof label, "lstm gates fprop %s", name);
    row(label, (4 + 1 + 2) * N * Kc * e, median_ms([&] { bs_lstm_gates_fprop(BS_BACKEND_CUDA, dt, N, Kc, c, a, bi, 1.0f, b, d, nullptr); }), copy_tbs);
    std::snprintf(label, sizeof label, "lstm gates bprop %s", name);
    row(label, (4 + 1 + 2 + 1 + 4) * N * Kc * e, median_ms([&] { bs_lstm_gates_bprop(BS_BACKEND_CUDA, dt, N, Kc, c, c, c, a, bi, 1.0f, d, b, nullptr, nullptr); }), copy_tbs);
    std::snprintf(label, sizeof label, "float_cast %s -> fp16", name);
    row(label, n * (e + 2), median_ms([&] { bs_float_cast(BS_BACKEND_CUDA, dt, BS_DTYPE_F16, n, a, b, nullptr); }), copy_tbs);
  }
  const cudaError_t err = cudaDeviceSynchronize();
  std::printf("\ncuda status: %s\n", cudaGetErrorString(err));
  return 0;
}
