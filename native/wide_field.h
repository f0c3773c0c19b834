// The wide field's shared arithmetic (wide_verify.cc, wide_ifma.cc): the operand range, float64-assisted
// arithmetic mod P < 2^50, and the validity of an untrusted result element.
#pragma once

#include <cmath>
#include <cstdint>

#include "verify_kernels.h"

namespace tee {
namespace wide {

constexpr int kLimbBits = 25;
constexpr int64_t kLimbBase = int64_t(1) << kLimbBits;
// Operands are centered representatives of p1 < 2^24; check_field(…, 2^24) enforces |a| ≤ 2^24 − 1.
constexpr int64_t kOperandLimit = int64_t(1) << 24;
constexpr int32_t kOperandMax = static_cast<int32_t>(kOperandLimit - 1);

// Arithmetic mod p (3 ≤ p < 2^50) for the hot loops, quotients taken from float64 with 1/p precomputed (a
// multiplication instead of a division). mul: for a, b < p the quotient a·b/p is below 2^50 and three
// roundings of relative size ≤ 2^-53 move it by less than 1/2, so q is off by at most one and the remainder,
// exact in wrapping 64-bit arithmetic, lies in [−p, 2p): one correction each way. reduce: the same for any
// int64 v, with a `%` fallback when the float64 quotient is too coarse (|v|/p ≥ 2^51, small moduli).
struct Mod {
  int64_t p;
  double inv;
  explicit Mod(int64_t m) : p(m), inv(1.0 / double(m)) {}
  int64_t fix(int64_t r) const {
    r += (r >> 63) & p;
    r -= p;
    return r + ((r >> 63) & p);
  }
  uint64_t mul(uint64_t a, uint64_t b) const {
    const uint64_t q = static_cast<uint64_t>(double(a) * double(b) * inv);
    return static_cast<uint64_t>(fix(static_cast<int64_t>(a * b - q * static_cast<uint64_t>(p))));
  }
  uint64_t reduce(int64_t v) const {
    const int64_t q = static_cast<int64_t>(double(v) * inv);
    int64_t r = static_cast<int64_t>(static_cast<uint64_t>(v) - static_cast<uint64_t>(q) * static_cast<uint64_t>(p));
    if (r < -p || r >= 2 * p) {
      r = v % p;
      return static_cast<uint64_t>(r < 0 ? r + p : r);
    }
    return static_cast<uint64_t>(fix(r));
  }
  uint64_t add(uint64_t a, uint64_t b) const {
    const uint64_t s = a + b;
    return s >= static_cast<uint64_t>(p) ? s - static_cast<uint64_t>(p) : s;
  }
};

// a·b mod p for a, b < p (Mod::mul, paying one division for 1/p).
inline uint64_t mulmod(uint64_t a, uint64_t b, uint64_t p) { return Mod(static_cast<int64_t>(p)).mul(a, b); }

inline uint64_t addmod(uint64_t a, uint64_t b, uint64_t p) {
  const uint64_t s = a + b;  // a, b < p < 2^50: no wrap
  return s >= p ? s - p : s;
}

// v mod P (v any int64) in [0, P).
inline uint64_t to_residue(int64_t v, int64_t p) {
  const int64_t r = v % p;
  return static_cast<uint64_t>(r < 0 ? r + p : r);
}

// Whether y is an integer with |y| ≤ bound (NaN and ±Inf fail); bound < 2^47, so round_near keeps it exact.
inline bool valid_y(double v, double bound) { return (std::fabs(v) <= bound) & (verify::round_near(v) == v); }

// The first index in [b, e) whose element valid_y refuses, or −1.
inline int64_t first_invalid(const double* y, int64_t b, int64_t e, double bound) {
  for (int64_t i = b; i < e; i++)
    if (!valid_y(y[i], bound)) return i;
  return -1;
}

}  // namespace wide
}  // namespace tee
