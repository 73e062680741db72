#pragma once
// A tensor as the library stores it (bytes of fp32, fp16 or bf16 elements) next to the exact values
// those bytes encode, which is what the float64 reference computes with.
#include <blocksparse/bs_types.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace bs_test {

size_t dtype_bytes(bs_dtype_t dtype);
const char* dtype_name(bs_dtype_t dtype);

// One element: encode (round to nearest even) and decode.
void encode(bs_dtype_t dtype, float value, uint8_t* dst);
float decode(bs_dtype_t dtype, const uint8_t* src);

class HostTensor {
 public:
  HostTensor() = default;
  HostTensor(bs_dtype_t dtype, int64_t count);  // zeros

  // Uniform in [lo, hi), rounded to the dtype.
  static HostTensor random(bs_dtype_t dtype, int64_t count, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f);
  // Every element a quiet NaN: outputs start like this so that an element never written fails.
  static HostTensor poison(bs_dtype_t dtype, int64_t count);
  static HostTensor from_bytes(bs_dtype_t dtype, std::vector<uint8_t> bytes);

  bs_dtype_t dtype() const { return dtype_; }
  int64_t count() const { return count_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  double at(int64_t i) const;
  void set(int64_t i, float value);  // rounds to the dtype
  std::vector<double> values() const;

 private:
  bs_dtype_t dtype_ = BS_DTYPE_F32;
  int64_t count_ = 0;
  std::vector<uint8_t> bytes_;
};

}  // namespace bs_test
