//! Sparse projections (`bs_sparse_proj.h`, the original's `SparseProj`): gather, scatter,
//! scatter-add and scatter-multiply between `nhidden` features and the `nproj` of them an index map
//! selects, and their gradients, as an owned CPU plan.
use std::ptr::{self, NonNull};

use blocksparse_sys as sys;

use crate::error::{check, Result};
use crate::host::{check_dtype, check_lens, dtype_of, i64_of, mut_ptr_of, opt_mut_len, opt_mut_ptr, ptr_of, size};
use crate::types::{DType, Element};

/// Creation parameters of a [`SparseProj`] (CPU backend); the default is the library's (fp32,
/// feature axis 0, the original's `(features, N)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseProjParams {
    pub dtype: DType,
    /// 0: tensors `(features, N)`; 1: `(N, features)`.
    pub feature_axis: i32,
}

fn init_params() -> sys::bs_sparse_proj_params_t {
    let mut p = sys::bs_sparse_proj_params_t::default();
    // Cannot fail: valid pointer and this crate's own struct size.
    unsafe { sys::bs_sparse_proj_params_init(&mut p, std::mem::size_of::<sys::bs_sparse_proj_params_t>()) };
    p
}

impl Default for SparseProjParams {
    fn default() -> Self {
        let p = init_params();
        SparseProjParams { dtype: dtype_of(p.dtype), feature_axis: p.feature_axis }
    }
}

/// A sparse-projection plan: `lut[j]` is the hidden feature that projected feature `j` maps to
/// (distinct, in `[0, nhidden)`). Dropped once; `Send + Sync`.
#[derive(Debug)]
pub struct SparseProj {
    raw: NonNull<sys::bs_sparse_proj_plan_s>,
    nhidden: usize,
    nproj: usize,
    params: SparseProjParams,
}

// SAFETY: immutable after creation, concurrent execution allowed (bs_sparse_proj.h); destroy only in Drop.
unsafe impl Send for SparseProj {}
unsafe impl Sync for SparseProj {}

impl Drop for SparseProj {
    fn drop(&mut self) {
        unsafe { sys::bs_sparse_proj_destroy(self.raw.as_ptr()) };
    }
}

impl SparseProj {
    pub fn new(lut: &[i64], nhidden: usize, params: &SparseProjParams) -> Result<SparseProj> {
        let p = sys::bs_sparse_proj_params_t {
            backend: sys::BS_BACKEND_CPU,
            dtype: params.dtype as i32,
            feature_axis: params.feature_axis,
            nhidden: i64_of(nhidden, "nhidden")?,
            nproj: i64_of(lut.len(), "nproj")?,
            ..init_params()
        };
        let mut raw = ptr::null_mut();
        check(unsafe { sys::bs_sparse_proj_create(&mut raw, &p, ptr_of(lut).cast()) })?;
        let raw = NonNull::new(raw).expect("bs_sparse_proj_create succeeded without a plan");
        Ok(SparseProj { raw, nhidden, nproj: lut.len(), params: *params })
    }

    /// The raw handle, for calling `blocksparse-sys` directly (valid while `self` lives).
    pub fn as_raw(&self) -> sys::const_bs_sparse_proj_plan_t {
        self.raw.as_ptr()
    }
    pub fn nhidden(&self) -> usize {
        self.nhidden
    }
    pub fn nproj(&self) -> usize {
        self.nproj
    }
    pub fn params(&self) -> &SparseProjParams {
        &self.params
    }

    /// (hidden, projected) element counts for minibatch `n`, after the dtype check.
    fn sizes<T: Element>(&self, func: &str, n: usize) -> Result<(Option<usize>, Option<usize>, i64)> {
        check_dtype::<T>(func, self.params.dtype)?;
        Ok((size(&[n, self.nhidden]), size(&[n, self.nproj]), i64_of(n, "N")?))
    }

    /// gather: `y (proj) = x (hidden)[lut]` along the feature axis.
    pub fn gather<T: Element>(&self, n: usize, x: &[T], y: &mut [T]) -> Result<()> {
        let func = "bs_sparse_proj_gather";
        let (hid, proj, n) = self.sizes::<T>(func, n)?;
        check_lens(func, &[("x", x.len(), hid), ("y", y.len(), proj)])?;
        check(unsafe { sys::bs_sparse_proj_gather(self.as_raw(), n, ptr_of(x), mut_ptr_of(y), ptr::null_mut()) })
    }

    /// scatter: `y (hidden) = 0; y[lut] = x (proj)`.
    pub fn scatter<T: Element>(&self, n: usize, x: &[T], y: &mut [T]) -> Result<()> {
        let func = "bs_sparse_proj_scatter";
        let (hid, proj, n) = self.sizes::<T>(func, n)?;
        check_lens(func, &[("x", x.len(), proj), ("y", y.len(), hid)])?;
        check(unsafe { sys::bs_sparse_proj_scatter(self.as_raw(), n, ptr_of(x), mut_ptr_of(y), ptr::null_mut()) })
    }

    /// scatter_add: `z (hidden) = x; z[lut] += y (proj)`.
    pub fn scatter_add<T: Element>(&self, n: usize, x: &[T], y: &[T], z: &mut [T]) -> Result<()> {
        let func = "bs_sparse_proj_scatter_add";
        let (hid, proj, n) = self.sizes::<T>(func, n)?;
        check_lens(func, &[("x", x.len(), hid), ("y", y.len(), proj), ("z", z.len(), hid)])?;
        check(unsafe {
            sys::bs_sparse_proj_scatter_add(self.as_raw(), n, ptr_of(x), ptr_of(y), mut_ptr_of(z), ptr::null_mut())
        })
    }

    /// scatter_mul: `z (hidden) = x; z[lut] *= y (proj)`.
    pub fn scatter_mul<T: Element>(&self, n: usize, x: &[T], y: &[T], z: &mut [T]) -> Result<()> {
        let func = "bs_sparse_proj_scatter_mul";
        let (hid, proj, n) = self.sizes::<T>(func, n)?;
        check_lens(func, &[("x", x.len(), hid), ("y", y.len(), proj), ("z", z.len(), hid)])?;
        check(unsafe {
            sys::bs_sparse_proj_scatter_mul(self.as_raw(), n, ptr_of(x), ptr_of(y), mut_ptr_of(z), ptr::null_mut())
        })
    }

    /// Gradient of scatter_add: `dx (hidden) = dz`, `dy (proj) = dz[lut]`; either may be skipped.
    pub fn scatter_add_grad<T: Element>(
        &self,
        n: usize,
        dz: &[T],
        dx: Option<&mut [T]>,
        dy: Option<&mut [T]>,
    ) -> Result<()> {
        let func = "bs_sparse_proj_scatter_add_grad";
        let (hid, proj, n) = self.sizes::<T>(func, n)?;
        check_lens(
            func,
            &[("dz", dz.len(), hid), ("dx", opt_mut_len(&dx, hid), hid), ("dy", opt_mut_len(&dy, proj), proj)],
        )?;
        check(unsafe {
            sys::bs_sparse_proj_scatter_add_grad(
                self.as_raw(),
                n,
                ptr_of(dz),
                opt_mut_ptr(dx).cast(),
                opt_mut_ptr(dy).cast(),
                ptr::null_mut(),
            )
        })
    }

    /// Gradient of scatter_mul: `dx = dz` with `dx[lut] *= y`, `dy = dz[lut]·x[lut]`; either may be skipped.
    #[allow(clippy::too_many_arguments)]
    pub fn scatter_mul_grad<T: Element>(
        &self,
        n: usize,
        dz: &[T],
        x: &[T],
        y: &[T],
        dx: Option<&mut [T]>,
        dy: Option<&mut [T]>,
    ) -> Result<()> {
        let func = "bs_sparse_proj_scatter_mul_grad";
        let (hid, proj, n) = self.sizes::<T>(func, n)?;
        check_lens(
            func,
            &[
                ("dz", dz.len(), hid),
                ("x", x.len(), hid),
                ("y", y.len(), proj),
                ("dx", opt_mut_len(&dx, hid), hid),
                ("dy", opt_mut_len(&dy, proj), proj),
            ],
        )?;
        check(unsafe {
            sys::bs_sparse_proj_scatter_mul_grad(
                self.as_raw(),
                n,
                ptr_of(dz),
                ptr_of(x),
                ptr_of(y),
                opt_mut_ptr(dx).cast(),
                opt_mut_ptr(dy).cast(),
                ptr::null_mut(),
            )
        })
    }
}
