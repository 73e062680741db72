//! Layer normalisation over the feature axis (`layernorm.h`, the original's `layer_norm`), forward
//! and backward, with optional segments and fused ReLU, as an owned CPU plan.
use std::ptr::{self, NonNull};

use blocksparse_sys as sys;

use crate::error::{check, Result};
use crate::host::{check_dtype, check_lens, dtype_of, flag, i64_of, mut_ptr_of, opt_len, opt_mut_len, opt_mut_ptr};
use crate::host::{opt_ptr, ptr_of, size, workspace};
use crate::types::{DType, Element};

/// Creation parameters of a [`LayerNorm`] (`layernorm_params_t`, CPU backend);
/// `LayerNormParams::default()` holds the library's defaults, with `k` to be set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormParams {
    /// Features K, >= 1.
    pub k: usize,
    pub dtype: DType,
    /// 1: activations `(N, K)` (features last); 0: `(K, N)`.
    pub feature_axis: i32,
    /// S >= 1 dividing K: each of the S slices of K/S features is normalised on its own.
    pub segments: i32,
    /// Added to the variance (default 1e-6, the original's).
    pub epsilon: f32,
    /// A fused ReLU after the affine step.
    pub relu: bool,
    /// Bitwise repeatable dgain/dbias (the default).
    pub deterministic: bool,
    /// CPU threads per call, 0 = the OpenMP default.
    pub num_threads: i32,
}

fn init_params() -> sys::layernorm_params_t {
    let mut p = sys::layernorm_params_t::default();
    // Cannot fail: valid pointer and this crate's own struct size.
    unsafe { sys::layernorm_params_init(&mut p, std::mem::size_of::<sys::layernorm_params_t>()) };
    p
}

impl Default for LayerNormParams {
    fn default() -> Self {
        let p = init_params();
        LayerNormParams {
            k: p.K as usize,
            dtype: dtype_of(p.dtype),
            feature_axis: p.feature_axis,
            segments: p.segments,
            epsilon: p.epsilon,
            relu: p.relu != 0,
            deterministic: p.deterministic != 0,
            num_threads: p.num_threads,
        }
    }
}

/// The execute functions, for [`LayerNorm::workspace_size`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerNormOp {
    Fprop = sys::LAYERNORM_OP_FPROP as isize,
    Bprop = sys::LAYERNORM_OP_BPROP as isize,
}

/// A layer-norm plan over K features. Dropping it frees it (exactly once); it is `Send + Sync`,
/// one plan may run on several threads at once. Statistics `mean`, `rstd` are `(S, N)` fp32;
/// `gain`, `bias` and their gradients K fp32.
#[derive(Debug)]
pub struct LayerNorm {
    raw: NonNull<sys::layernorm_plan_s>,
    params: LayerNormParams,
}

// SAFETY: the plan is immutable after creation and the C API allows concurrent execution
// (layernorm.h, "Threads, streams, determinism"); layernorm_destroy runs only in Drop.
unsafe impl Send for LayerNorm {}
unsafe impl Sync for LayerNorm {}

impl Drop for LayerNorm {
    fn drop(&mut self) {
        unsafe { sys::layernorm_destroy(self.raw.as_ptr()) };
    }
}

impl LayerNorm {
    pub fn new(params: &LayerNormParams) -> Result<LayerNorm> {
        let p = sys::layernorm_params_t {
            backend: sys::BS_BACKEND_CPU,
            dtype: params.dtype as i32,
            feature_axis: params.feature_axis,
            segments: params.segments,
            K: i64_of(params.k, "K")?,
            epsilon: params.epsilon,
            relu: flag(params.relu),
            deterministic: flag(params.deterministic),
            num_threads: params.num_threads,
            ..init_params()
        };
        let mut raw = ptr::null_mut();
        check(unsafe { sys::layernorm_create(&mut raw, &p) })?;
        let raw = NonNull::new(raw).expect("layernorm_create succeeded without a plan");
        Ok(LayerNorm { raw, params: *params })
    }

    /// The raw handle, for calling `blocksparse-sys` directly (valid while `self` lives).
    pub fn as_raw(&self) -> sys::const_layernorm_plan_t {
        self.raw.as_ptr()
    }
    pub fn params(&self) -> &LayerNormParams {
        &self.params
    }

    /// Workspace bytes of `op` for minibatch `n` (the execute methods allocate it themselves).
    pub fn workspace_size(&self, op: LayerNormOp, n: usize) -> Result<usize> {
        let mut bytes = 0usize;
        check(unsafe { sys::layernorm_get_workspace_size(self.as_raw(), op as i32, i64_of(n, "N")?, &mut bytes) })?;
        Ok(bytes)
    }

    fn shapes(&self, n: usize) -> (Option<usize>, Option<usize>, Option<usize>) {
        let k = self.params.k;
        (size(&[n, k]), size(&[self.params.segments.max(0) as usize, n]), Some(k))
    }

    /// Forward `y = relu?(gain·(x-mean)·rstd + bias)` for minibatch `n` (gain None: ones, bias None:
    /// zeros); `stats = Some((mean, rstd))` saves the statistics for [`LayerNorm::bprop`].
    pub fn fprop<T: Element>(
        &self,
        n: usize,
        x: &[T],
        gain: Option<&[f32]>,
        bias: Option<&[f32]>,
        y: &mut [T],
        stats: Option<(&mut [f32], &mut [f32])>,
    ) -> Result<()> {
        let func = "layernorm_fprop";
        check_dtype::<T>(func, self.params.dtype)?;
        let (act, stat, k) = self.shapes(n);
        let (mean, rstd) = match stats {
            Some((m, r)) => (Some(m), Some(r)),
            None => (None, None),
        };
        check_lens(
            func,
            &[
                ("x", x.len(), act),
                ("y", y.len(), act),
                ("gain", opt_len(&gain, k), k),
                ("bias", opt_len(&bias, k), k),
                ("mean", opt_mut_len(&mean, stat), stat),
                ("rstd", opt_mut_len(&rstd, stat), stat),
            ],
        )?;
        let mut ws = workspace(self.workspace_size(LayerNormOp::Fprop, n)?);
        check(unsafe {
            sys::layernorm_fprop(
                self.as_raw(),
                i64_of(n, "N")?,
                ptr_of(x),
                opt_ptr(gain),
                opt_ptr(bias),
                mut_ptr_of(y),
                opt_mut_ptr(mean),
                opt_mut_ptr(rstd),
                mut_ptr_of(&mut ws),
                ws.len() * 8,
                ptr::null_mut(),
            )
        })
    }

    /// Backward from the forward's `mean`, `rstd`: `dx`, and `dgain`, `dbias` when given
    /// (overwritten). `bias` is read only by plans with relu.
    #[allow(clippy::too_many_arguments)]
    pub fn bprop<T: Element>(
        &self,
        n: usize,
        dy: &[T],
        x: &[T],
        gain: Option<&[f32]>,
        bias: Option<&[f32]>,
        mean: &[f32],
        rstd: &[f32],
        dx: &mut [T],
        dgain: Option<&mut [f32]>,
        dbias: Option<&mut [f32]>,
    ) -> Result<()> {
        let func = "layernorm_bprop";
        check_dtype::<T>(func, self.params.dtype)?;
        let (act, stat, k) = self.shapes(n);
        check_lens(
            func,
            &[
                ("dy", dy.len(), act),
                ("x", x.len(), act),
                ("dx", dx.len(), act),
                ("gain", opt_len(&gain, k), k),
                ("bias", opt_len(&bias, k), k),
                ("mean", mean.len(), stat),
                ("rstd", rstd.len(), stat),
                ("dgain", opt_mut_len(&dgain, k), k),
                ("dbias", opt_mut_len(&dbias, k), k),
            ],
        )?;
        let mut ws = workspace(self.workspace_size(LayerNormOp::Bprop, n)?);
        check(unsafe {
            sys::layernorm_bprop(
                self.as_raw(),
                i64_of(n, "N")?,
                ptr_of(dy),
                ptr_of(x),
                opt_ptr(gain),
                opt_ptr(bias),
                ptr_of(mean).cast(),
                ptr_of(rstd).cast(),
                mut_ptr_of(dx),
                opt_mut_ptr(dgain),
                opt_mut_ptr(dbias),
                mut_ptr_of(&mut ws),
                ws.len() * 8,
                ptr::null_mut(),
            )
        })
    }
}
