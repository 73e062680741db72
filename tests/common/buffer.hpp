#pragma once
// Memory of a plan's backend, as the tests hand it to the library: host memory for CPU plans,
// device memory (compiled only with BS_WITH_CUDA) for CUDA plans. Every buffer sits between two
// guard zones filled with a known pattern, so a test can check that a call wrote nothing outside
// the buffer; snapshot() reads guards and contents together for "nothing written" checks.
#include <blocksparse/bs_types.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/host_tensor.hpp"

namespace bs_test {

class TestBuffer {
 public:
  // Bytes on each side of the contents. A multiple of 256 keeps the contents as aligned as
  // cudaMalloc's own allocations.
  static constexpr size_t kGuardBytes = 256;

  TestBuffer() = default;
  // `bytes` of contents (may be 0), filled with the guard pattern until written. `offset` shifts
  // data() by that many bytes past the front guard (misaligned-pointer tests).
  TestBuffer(bs_backend_t backend, size_t bytes, size_t offset = 0);
  // A buffer holding a copy of `t`.
  TestBuffer(bs_backend_t backend, const HostTensor& t);
  ~TestBuffer();
  TestBuffer(TestBuffer&& other) noexcept;
  TestBuffer& operator=(TestBuffer&& other) noexcept;
  TestBuffer(const TestBuffer&) = delete;
  TestBuffer& operator=(const TestBuffer&) = delete;

  void* data() const { return base_ ? base_ + kGuardBytes + offset_ : nullptr; }
  float* f32() const { return static_cast<float*>(data()); }
  size_t bytes() const { return bytes_; }
  bs_backend_t backend() const { return backend_; }

  void upload(const std::vector<uint8_t>& src);  // src.size() == bytes()
  void upload(const HostTensor& t) { upload(t.bytes()); }
  std::vector<uint8_t> download() const;
  HostTensor download(bs_dtype_t dtype) const { return HostTensor::from_bytes(dtype, download()); }

  // Guards and contents together.
  std::vector<uint8_t> snapshot() const;
  // Success unless a byte of either guard zone changed (the message gives the first one).
  ::testing::AssertionResult guards_intact() const;

 private:
  size_t total() const { return bytes_ + offset_ + 2 * kGuardBytes; }
  void copy_in(size_t at, const uint8_t* src, size_t n);
  void copy_out(size_t at, uint8_t* dst, size_t n) const;
  void release() noexcept;

  bs_backend_t backend_ = BS_BACKEND_CPU;
  size_t bytes_ = 0;
  size_t offset_ = 0;
  uint8_t* base_ = nullptr;  // host or device address of the front guard
};

// The guard pattern's byte at position i of a buffer.
uint8_t guard_byte(size_t i);

// Synchronizes the device of CUDA plans (no-op for the CPU or without CUDA), so that timing-free
// tests read finished results; downloads synchronize anyway.
void sync_backend(bs_backend_t backend);

}  // namespace bs_test
