#include "common/buffer.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(BS_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace bs_test {
namespace {

#if defined(BS_WITH_CUDA)
void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
#else
[[noreturn]] void no_cuda() { throw std::runtime_error("TestBuffer: this test build has no CUDA support"); }
#endif

}  // namespace

uint8_t guard_byte(size_t i) { return static_cast<uint8_t>((i * 151u + 0x5bu) ^ (i >> 8)); }

TestBuffer::TestBuffer(bs_backend_t backend, size_t bytes, size_t offset)
    : backend_(backend), bytes_(bytes), offset_(offset) {
  if (backend_ == BS_BACKEND_CPU) {
    base_ = static_cast<uint8_t*>(::operator new(total(), std::align_val_t{256}));
  } else {
#if defined(BS_WITH_CUDA)
    void* p = nullptr;
    cuda_check(cudaMalloc(&p, total()), "cudaMalloc");
    base_ = static_cast<uint8_t*>(p);
#else
    no_cuda();
#endif
  }
  std::vector<uint8_t> pattern(total());
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = guard_byte(i);
  copy_in(0, pattern.data(), pattern.size());
}

TestBuffer::TestBuffer(bs_backend_t backend, const HostTensor& t) : TestBuffer(backend, t.bytes().size()) {
  upload(t);
}

TestBuffer::~TestBuffer() { release(); }

TestBuffer::TestBuffer(TestBuffer&& o) noexcept
    : backend_(o.backend_), bytes_(o.bytes_), offset_(o.offset_), base_(std::exchange(o.base_, nullptr)) {}

TestBuffer& TestBuffer::operator=(TestBuffer&& o) noexcept {
  if (this != &o) {
    release();
    backend_ = o.backend_;
    bytes_ = o.bytes_;
    offset_ = o.offset_;
    base_ = std::exchange(o.base_, nullptr);
  }
  return *this;
}

void TestBuffer::release() noexcept {
  if (!base_) return;
  if (backend_ == BS_BACKEND_CPU) {
    ::operator delete(base_, std::align_val_t{256});
  } else {
#if defined(BS_WITH_CUDA)
    cudaFree(base_);
#endif
  }
  base_ = nullptr;
}

void TestBuffer::copy_in(size_t at, const uint8_t* src, size_t n) {
  if (n == 0) return;
  if (backend_ == BS_BACKEND_CPU) {
    std::memcpy(base_ + at, src, n);
    return;
  }
#if defined(BS_WITH_CUDA)
  cuda_check(cudaMemcpy(base_ + at, src, n, cudaMemcpyHostToDevice), "cudaMemcpy to device");
#else
  no_cuda();
#endif
}

void TestBuffer::copy_out(size_t at, uint8_t* dst, size_t n) const {
  if (n == 0) return;
  if (backend_ == BS_BACKEND_CPU) {
    std::memcpy(dst, base_ + at, n);
    return;
  }
#if defined(BS_WITH_CUDA)
  cuda_check(cudaMemcpy(dst, base_ + at, n, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
#else
  no_cuda();
#endif
}

void TestBuffer::upload(const std::vector<uint8_t>& src) {
  if (src.size() != bytes_) throw std::invalid_argument("TestBuffer::upload: size mismatch");
  copy_in(kGuardBytes + offset_, src.data(), src.size());
}

std::vector<uint8_t> TestBuffer::download() const {
  std::vector<uint8_t> out(bytes_);
  copy_out(kGuardBytes + offset_, out.data(), out.size());
  return out;
}

std::vector<uint8_t> TestBuffer::snapshot() const {
  std::vector<uint8_t> out(total());
  copy_out(0, out.data(), out.size());
  return out;
}

::testing::AssertionResult TestBuffer::guards_intact() const {
  const std::vector<uint8_t> all = snapshot();
  const size_t body_begin = kGuardBytes + offset_, body_end = body_begin + bytes_;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i >= body_begin && i < body_end) continue;
    if (all[i] != guard_byte(i)) {
      return ::testing::AssertionFailure()
             << "data()[" << static_cast<long long>(i) - static_cast<long long>(body_begin) << "], outside the "
             << bytes_ << " bytes of the buffer, was overwritten";
    }
  }
  return ::testing::AssertionSuccess();
}

void sync_backend(bs_backend_t backend) {
#if defined(BS_WITH_CUDA)
  if (backend == BS_BACKEND_CUDA) cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
#else
  (void)backend;
#endif
}

}  // namespace bs_test
