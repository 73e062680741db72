#include "common/float16.hpp"

#include <cmath>
#include <cstring>

namespace bs_test {

// fp16 fields: 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals step by 2^-24.
float f16_to_float(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double mag;
  if (exponent == 0x1f)
    mag = mantissa ? std::nan("") : INFINITY;
  else if (exponent == 0)
    mag = std::ldexp(mantissa, -24);
  else
    mag = std::ldexp(mantissa + 1024, exponent - 25);
  return static_cast<float>((bits & 0x8000u) ? -mag : mag);
}

uint16_t f16_from_float(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000u : 0u;
  if (std::isnan(f)) return static_cast<uint16_t>(sign | 0x7e00u);
  const double mag = std::fabs(static_cast<double>(f));
  // 65520 is halfway between the largest finite fp16 (65504, odd mantissa) and 2^16: ties go up.
  if (mag >= 65520.0) return static_cast<uint16_t>(sign | 0x7c00u);
  // Units of the fp16 spacing at mag's binade (2^-24 below the normal range), rounded to nearest
  // even by nearbyint in the default rounding mode; mag / unit is exact in double.
  int e2 = 0;
  std::frexp(mag, &e2);  // mag = m * 2^e2, m in [0.5, 1)
  const int binade = e2 - 1 < -14 ? -14 : e2 - 1;
  const double units = std::nearbyint(std::ldexp(mag, 10 - binade));
  // Subnormal units (< 1024) are the bit pattern itself, and 1024 carries into the exponent field;
  // so does 2048 at the top of a normal binade.
  const int bits = mag < std::ldexp(1.0, -14) ? static_cast<int>(units)
                                             : ((binade + 15) << 10) + static_cast<int>(units) - 1024;
  return static_cast<uint16_t>(sign | bits);
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
