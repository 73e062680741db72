#pragma once
// The test suites' own fp16 / bf16 conversions, written independently of the library's so that a
// rounding bug there cannot hide behind the same bug here. Both round to nearest, ties to even.
#include <cstdint>

namespace bs_test {

// fp16: decoded and rounded in double arithmetic (no compiler _Float16, which clang 14 lacks on x86).
uint16_t f16_from_float(float f);
float f16_to_float(uint16_t bits);

// bf16: the nearer of the two bf16 neighbours of f (compared in double), ties to the even one.
uint16_t bf16_from_float(float f);
float bf16_to_float(uint16_t bits);

}  // namespace bs_test
