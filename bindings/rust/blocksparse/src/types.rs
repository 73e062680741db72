//! Creation parameters and element types.
use blocksparse_sys as sys;

/// Storage type of activations and weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32 = sys::BS_DTYPE_F32 as isize,
    F16 = sys::BS_DTYPE_F16 as isize,
    BF16 = sys::BS_DTYPE_BF16 as isize,
}

/// Where a plan's data lives and its kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Cpu = sys::BS_BACKEND_CPU as isize,
    Cuda = sys::BS_BACKEND_CUDA as isize,
}

/// How fp32 data may be multiplied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathMode {
    Default = sys::BS_MATH_DEFAULT as isize,
    Tf32 = sys::BS_MATH_TF32 as isize,
}

/// Bits of an IEEE binary16 value (Rust has no stable f16): the binding only moves the bits.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Float16(pub u16);

/// Bits of a bfloat16 value (the upper half of an f32).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BFloat16(pub u16);

impl BFloat16 {
    /// Rounds to nearest even (NaN stays NaN).
    pub fn from_f32(v: f32) -> Self {
        if v.is_nan() {
            return BFloat16(0x7fc0);
        }
        let u = v.to_bits();
        BFloat16((u.wrapping_add(0x7fff + ((u >> 16) & 1)) >> 16) as u16)
    }
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for super::Float16 {}
    impl Sealed for super::BFloat16 {}
}

/// An element type the library stores; the slice type must match the plan's dtype.
pub trait Element: Copy + sealed::Sealed {
    const DTYPE: DType;
}
impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
impl Element for Float16 {
    const DTYPE: DType = DType::F16;
}
impl Element for BFloat16 {
    const DTYPE: DType = DType::BF16;
}

/// Creation parameters of a plan (`bsmm_params_t`); `Params::default()` are the library's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub backend: Backend,
    pub device: i32,
    /// b: 8, 16, 32, 64 or 128.
    pub block_size: i32,
    /// 1: activations `(N, features)`; 0: `(features, N)`.
    pub feature_axis: i32,
    pub dtype: DType,
    pub math_mode: MathMode,
    /// CPU threads per call; 0 = one per hardware thread.
    pub num_threads: i32,
}

impl Default for Params {
    fn default() -> Self {
        let p = init_params();
        Params {
            backend: if p.backend == sys::BS_BACKEND_CUDA { Backend::Cuda } else { Backend::Cpu },
            device: p.device,
            block_size: p.block_size,
            feature_axis: p.feature_axis,
            dtype: DType::F32,
            math_mode: MathMode::Default,
            num_threads: p.num_threads,
        }
    }
}

fn init_params() -> sys::bsmm_params_t {
    let mut p = sys::bsmm_params_t::default();
    // Cannot fail: valid pointer and this crate's own struct size.
    unsafe { sys::bsmm_params_init(&mut p, std::mem::size_of::<sys::bsmm_params_t>()) };
    p
}

impl Params {
    pub(crate) fn to_sys(self) -> sys::bsmm_params_t {
        sys::bsmm_params_t {
            backend: self.backend as i32,
            device: self.device,
            block_size: self.block_size,
            feature_axis: self.feature_axis,
            dtype: self.dtype as i32,
            math_mode: self.math_mode as i32,
            num_threads: self.num_threads,
            ..init_params()
        }
    }
}
