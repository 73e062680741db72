#include "common/host_tensor.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>

#include "common/float16.hpp"

namespace bs_test {

size_t dtype_bytes(bs_dtype_t dtype) { return dtype == BS_DTYPE_F32 ? 4 : 2; }

const char* dtype_name(bs_dtype_t dtype) {
  switch (dtype) {
    case BS_DTYPE_F32: return "f32";
    case BS_DTYPE_F16: return "f16";
    case BS_DTYPE_BF16: return "bf16";
    default: return "bad_dtype";
  }
}

void encode(bs_dtype_t dtype, float value, uint8_t* dst) {
  switch (dtype) {
    case BS_DTYPE_F32: std::memcpy(dst, &value, 4); return;
    case BS_DTYPE_F16: {
      const uint16_t b = f16_from_float(value);
      std::memcpy(dst, &b, 2);
      return;
    }
    case BS_DTYPE_BF16: {
      const uint16_t b = bf16_from_float(value);
      std::memcpy(dst, &b, 2);
      return;
    }
    default: throw std::invalid_argument("encode: bad dtype");
  }
}

float decode(bs_dtype_t dtype, const uint8_t* src) {
  if (dtype == BS_DTYPE_F32) {
    float v;
    std::memcpy(&v, src, 4);
    return v;
  }
  uint16_t b;
  std::memcpy(&b, src, 2);
  return dtype == BS_DTYPE_F16 ? f16_to_float(b) : bf16_to_float(b);
}

HostTensor::HostTensor(bs_dtype_t dtype, int64_t count)
    : dtype_(dtype), count_(count), bytes_(static_cast<size_t>(count) * dtype_bytes(dtype), 0) {}

HostTensor HostTensor::random(bs_dtype_t dtype, int64_t count, std::mt19937_64& rng, float lo, float hi) {
  HostTensor t(dtype, count);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < count; ++i) t.set(i, dist(rng));
  return t;
}

HostTensor HostTensor::poison(bs_dtype_t dtype, int64_t count) {
  HostTensor t(dtype, count);
  for (int64_t i = 0; i < count; ++i) t.set(i, std::numeric_limits<float>::quiet_NaN());
  return t;
}

HostTensor HostTensor::from_bytes(bs_dtype_t dtype, std::vector<uint8_t> bytes) {
  if (bytes.size() % dtype_bytes(dtype) != 0) throw std::invalid_argument("from_bytes: size is not a multiple");
  HostTensor t;
  t.dtype_ = dtype;
  t.count_ = static_cast<int64_t>(bytes.size() / dtype_bytes(dtype));
  t.bytes_ = std::move(bytes);
  return t;
}

double HostTensor::at(int64_t i) const {
  return static_cast<double>(decode(dtype_, bytes_.data() + static_cast<size_t>(i) * dtype_bytes(dtype_)));
}

void HostTensor::set(int64_t i, float value) {
  encode(dtype_, value, bytes_.data() + static_cast<size_t>(i) * dtype_bytes(dtype_));
}

std::vector<double> HostTensor::values() const {
  std::vector<double> v(static_cast<size_t>(count_));
  for (int64_t i = 0; i < count_; ++i) v[static_cast<size_t>(i)] = at(i);
  return v;
}

}  // namespace bs_test
