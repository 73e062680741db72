//! Helpers of the family tests: fresh random data, NaN poison, the relative error against a float64
//! reference, and the check that a failed call names its status and writes nothing.
#![allow(dead_code)]
use std::time::{SystemTime, UNIX_EPOCH};

use blocksparse::{Result, Status};

/// xorshift64* seeded from the clock: fresh data on every run (the seed is printed on failure).
pub struct Rng(pub u64);

impl Rng {
    pub fn new() -> Rng {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
        eprintln!("seed {seed}");
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
    /// n values uniform in [-1, 1).
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform(-1.0, 1.0)).collect()
    }
    /// n values of magnitude in [0.5, 2), random sign when `signed` (safe for 1/x, log, sqrt of |x|).
    pub fn away_from_zero(&mut self, n: usize, signed: bool) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let m = self.uniform(0.5, 2.0);
                if signed && self.next() & 1 == 1 {
                    -m
                } else {
                    m
                }
            })
            .collect()
    }
}

/// n NaNs: an output not fully written fails `rel_err`.
pub fn poison(n: usize) -> Vec<f32> {
    vec![f32::NAN; n]
}

/// ‖got − want‖ / ‖want‖; infinite when got holds a NaN (or want is all zeros and got is not).
pub fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length");
    if got.iter().any(|v| v.is_nan()) {
        return f64::INFINITY;
    }
    let num: f64 = got.iter().zip(want).map(|(&g, &w)| (g as f64 - w).powi(2)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        return if num == 0.0 { 0.0 } else { f64::INFINITY };
    }
    (num / den).sqrt()
}

/// Asserts fp32 accuracy (<= 1e-5 relative; NaN never passes).
pub fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    let e = rel_err(got, want);
    assert!(e <= 1e-5, "{what}: relative error {e} > 1e-5");
}

pub fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// The call failed with `status`, its message names `needle`, and `untouched` is still all NaN.
pub fn assert_fails(r: Result<()>, status: Status, needle: &str, untouched: &[f32]) {
    let e = r.expect_err("the call should have failed");
    assert_eq!(e.status, status, "{e}");
    assert!(e.message.contains(needle), "message {:?} does not name {needle:?}", e.message);
    assert!(untouched.iter().all(|v| v.is_nan()), "a failed call wrote its output");
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
