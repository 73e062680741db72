#include "common/float16.hpp"

#include <cmath>
#include <cstring>

namespace bs_test {

uint16_t f16_from_float(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  uint16_t bits;
  std::memcpy(&bits, &h, sizeof bits);
  return bits;
}

float f16_to_float(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, sizeof h);
  return static_cast<float>(h);
}

float bf16_to_float(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

uint16_t bf16_from_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  if (std::isnan(f)) return static_cast<uint16_t>(sign | 0x7fc0u);
  if (std::isinf(f)) return static_cast<uint16_t>(sign | 0x7f80u);
  // Magnitudes only: `low` is f truncated to bf16, `high` the next bf16 magnitude above it. Above
  // the largest finite bf16 the next magnitude would be 2^128 (it encodes as infinity).
  const uint16_t low = static_cast<uint16_t>((u >> 16) & 0x7fffu);
  const uint16_t high = static_cast<uint16_t>(low + 1u);
  const double mag = std::fabs(static_cast<double>(f));
  const double low_value = static_cast<double>(bf16_to_float(low));
  const double high_value = high == 0x7f80u ? std::ldexp(1.0, 128) : static_cast<double>(bf16_to_float(high));
  const double to_low = mag - low_value, to_high = high_value - mag;
  uint16_t pick = low;
  if (to_high < to_low || (to_high == to_low && (low & 1u))) pick = high;
  return static_cast<uint16_t>(sign | pick);
}

}  // namespace bs_test
