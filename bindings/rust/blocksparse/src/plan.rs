//! The plan: one `bsmm_plan_t`, its shapes, and the safe execute functions over slices.
use std::ffi::c_void;
use std::ptr::{self, NonNull};

use blocksparse_sys as sys;

use crate::error::{arg_error, check, Result, Status};
use crate::host::{i64_of, mut_ptr_of, ptr_of};
use crate::types::{Backend, DType, Element, Params};

/// Optional scales of an execute call: `out = alpha·product + beta·out`, block `i`'s term times
/// `gate[i]` when a gate slice (length nnz) is given. The default is `alpha = 1, beta = 0`, no gates.
#[derive(Clone, Copy, Debug)]
pub struct Scale<'a> {
    pub alpha: f32,
    pub beta: f32,
    pub gate: Option<&'a [f32]>,
}

impl Default for Scale<'_> {
    fn default() -> Self {
        Scale { alpha: 1.0, beta: 0.0, gate: None }
    }
}

/// A bsmm plan: a fixed block layout with its lookup tables, made once and executed many times.
/// Dropping it frees it (exactly once: `Plan` is not `Clone`; share it with `Arc`).
#[derive(Debug)]
pub struct Plan {
    raw: NonNull<sys::bsmm_plan_s>,
    c: usize,
    k: usize,
    cb: usize,
    kb: usize,
    b: usize,
    nnz: usize,
    feature_axis: i32,
    dtype: DType,
    backend: Backend,
}

// SAFETY: a plan is immutable after creation and the C API allows concurrent execution from several
// threads (bsmm.h, "Threads, streams, determinism"); the one call that must not race, bsmm_destroy,
// runs in Drop, which takes the plan by value/&mut and so cannot overlap any &self method.
unsafe impl Send for Plan {}
unsafe impl Sync for Plan {}

impl Drop for Plan {
    fn drop(&mut self) {
        // Always succeeds for a plan made by bsmm_create*.
        unsafe { sys::bsmm_destroy(self.raw.as_ptr()) };
    }
}

fn gate_ptr(gate: Option<&[f32]>) -> *const f32 {
    gate.map_or(ptr::null(), |g| g.as_ptr())
}

impl Plan {
    /// Creates a plan from a dense `cb × kb` 0/1 layout, row-major (`layout[c*kb + k] = 1`
    /// connects input block `c` to output block `k`).
    pub fn new(layout: &[u8], cb: usize, kb: usize, params: &Params) -> Result<Plan> {
        if cb.checked_mul(kb) != Some(layout.len()) {
            return arg_error(
                Status::SHAPE_MISMATCH,
                format!("layout has {} entries, CB*KB = {cb}*{kb}", layout.len()),
            );
        }
        let p = params.to_sys();
        let mut raw = ptr::null_mut();
        check(unsafe { sys::bsmm_create(&mut raw, &p, ptr_of(layout).cast(), i64_of(cb, "CB")?, i64_of(kb, "KB")?) })?;
        Ok(Plan::wrap(raw))
    }

    /// Creates a plan from a layout in BSR form: input block row `c` connects to the output blocks
    /// `col_idx[row_ptr[c]..row_ptr[c+1]]`; block `i` of W is the `i`-th entry of `col_idx`.
    pub fn from_bsr(cb: usize, kb: usize, row_ptr: &[i64], col_idx: &[i64], params: &Params) -> Result<Plan> {
        if row_ptr.len() != cb.saturating_add(1) || row_ptr.last() != Some(&(col_idx.len() as i64)) {
            return arg_error(
                Status::SHAPE_MISMATCH,
                format!("need CB+1 = {} row pointers ending at col_idx.len() = {}", cb + 1, col_idx.len()),
            );
        }
        let p = params.to_sys();
        let mut raw = ptr::null_mut();
        check(unsafe {
            sys::bsmm_create_bsr(
                &mut raw,
                &p,
                i64_of(cb, "CB")?,
                i64_of(kb, "KB")?,
                row_ptr.as_ptr(),
                ptr_of(col_idx).cast(),
            )
        })?;
        Ok(Plan::wrap(raw))
    }

    fn wrap(raw: sys::bsmm_plan_t) -> Plan {
        let raw = NonNull::new(raw).expect("bsmm_create succeeded without a plan");
        let attr = |a| {
            let mut v = 0i64;
            // Cannot fail: valid plan and attribute.
            unsafe { sys::bsmm_get_attr(raw.as_ptr(), a, &mut v) };
            v
        };
        let dtype = match attr(sys::BSMM_ATTR_DTYPE) as i32 {
            sys::BS_DTYPE_F16 => DType::F16,
            sys::BS_DTYPE_BF16 => DType::BF16,
            _ => DType::F32,
        };
        let backend =
            if attr(sys::BSMM_ATTR_BACKEND) as i32 == sys::BS_BACKEND_CUDA { Backend::Cuda } else { Backend::Cpu };
        Plan {
            raw,
            c: attr(sys::BSMM_ATTR_C) as usize,
            k: attr(sys::BSMM_ATTR_K) as usize,
            cb: attr(sys::BSMM_ATTR_CB) as usize,
            kb: attr(sys::BSMM_ATTR_KB) as usize,
            b: attr(sys::BSMM_ATTR_BLOCK_SIZE) as usize,
            nnz: attr(sys::BSMM_ATTR_NNZ_BLOCKS) as usize,
            feature_axis: attr(sys::BSMM_ATTR_FEATURE_AXIS) as i32,
            dtype,
            backend,
        }
    }

    /// The raw handle, for calling `blocksparse-sys` directly (valid while `self` lives).
    pub fn as_raw(&self) -> sys::const_bsmm_plan_t {
        self.raw.as_ptr()
    }
    /// Input features C = CB·b.
    pub fn c(&self) -> usize {
        self.c
    }
    /// Output features K = KB·b.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Layout rows (input blocks).
    pub fn cb(&self) -> usize {
        self.cb
    }
    /// Layout columns (output blocks).
    pub fn kb(&self) -> usize {
        self.kb
    }
    /// Block size b.
    pub fn block_size(&self) -> usize {
        self.b
    }
    /// Nonzero blocks (first dimension of W).
    pub fn nnz(&self) -> usize {
        self.nnz
    }
    /// 1: activations `(N, features)`; 0: `(features, N)`.
    pub fn feature_axis(&self) -> i32 {
        self.feature_axis
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn backend(&self) -> Backend {
        self.backend
    }
    /// Elements of W: nnz·b·b.
    pub fn weight_len(&self) -> usize {
        self.nnz * self.b * self.b
    }

    /// Layout coordinates `(c, k)` of weight block `i`.
    pub fn block_coord(&self, i: usize) -> Result<(usize, usize)> {
        let (mut c, mut k) = (0i64, 0i64);
        check(unsafe { sys::bsmm_block_coord(self.as_raw(), i64_of(i, "block")?, &mut c, &mut k) })?;
        Ok((c as usize, k as usize))
    }

    /// The dense `cb × kb` 0/1 layout, row-major.
    pub fn layout(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.cb * self.kb];
        check(unsafe { sys::bsmm_get_layout(self.as_raw(), out.as_mut_ptr(), out.len() as i64) })?;
        Ok(out)
    }

    /// Element type, backend and slice lengths: what the C API cannot check itself.
    fn check_slices<T: Element>(&self, lens: &[(&str, usize, Option<usize>)]) -> Result<()> {
        if T::DTYPE != self.dtype {
            return arg_error(Status::INVALID_VALUE, format!("{:?} slices given to a {:?} plan", T::DTYPE, self.dtype));
        }
        if self.backend != Backend::Cpu {
            return arg_error(
                Status::WRONG_BACKEND,
                "slices are host memory: the plan must use the CPU backend".into(),
            );
        }
        for &(name, got, want) in lens {
            match want {
                Some(w) if w == got => {}
                Some(w) => {
                    return arg_error(Status::SHAPE_MISMATCH, format!("{name} has {got} elements, expected {w}"))
                }
                None => return arg_error(Status::OVERFLOW, format!("the size of {name} overflows")),
            }
        }
        Ok(())
    }

    fn check_gate(&self, s: &Scale) -> Result<()> {
        match s.gate {
            Some(g) if g.len() != self.nnz => arg_error(
                Status::SHAPE_MISMATCH,
                format!("gate has {} entries, the plan has {} blocks", g.len(), self.nnz),
            ),
            _ => Ok(()),
        }
    }

    fn workspace(&self, op: sys::bsmm_op_t, n: i64) -> Result<Vec<u64>> {
        let mut bytes = 0usize;
        check(unsafe { sys::bsmm_get_workspace_size(self.as_raw(), op, n, &mut bytes) })?;
        Ok(vec![0u64; (bytes + 7) / 8])
    }

    fn xprop<T: Element>(
        &self,
        op: sys::bsmm_op_t,
        n: usize,
        input: &[T],
        w: &[T],
        out: &mut [T],
        in_f: usize,
        out_f: usize,
        s: Scale,
    ) -> Result<()> {
        self.check_slices::<T>(&[
            ("input", input.len(), n.checked_mul(in_f)),
            ("w", w.len(), Some(self.weight_len())),
            ("output", out.len(), n.checked_mul(out_f)),
        ])?;
        self.check_gate(&s)?;
        let n = i64_of(n, "N")?;
        let mut ws = self.workspace(op, n)?;
        let f = if op == sys::BSMM_OP_FPROP { sys::bsmm_fprop } else { sys::bsmm_bprop };
        check(unsafe {
            f(
                self.as_raw(),
                n,
                ptr_of(input),
                ptr_of(w),
                mut_ptr_of(out),
                s.alpha,
                s.beta,
                gate_ptr(s.gate),
                mut_ptr_of(&mut ws),
                ws.len() * 8,
                ptr::null_mut(),
            )
        })
    }

    /// `y = alpha·(x·W) + beta·y` for minibatch `n`: `x` is `(n, C)`, `y` `(n, K)` (feature axis 1)
    /// or `(C, n)`, `(K, n)` (axis 0); `w` is `(nnz, b, b)`.
    pub fn fprop<T: Element>(&self, n: usize, x: &[T], w: &[T], y: &mut [T], scale: Scale) -> Result<()> {
        self.xprop(sys::BSMM_OP_FPROP, n, x, w, y, self.c, self.k, scale)
    }

    /// `dx = alpha·(dy·Wᵀ) + beta·dx`: `dy` has the output's shape, `dx` the input's.
    pub fn bprop<T: Element>(&self, n: usize, dy: &[T], w: &[T], dx: &mut [T], scale: Scale) -> Result<()> {
        self.xprop(sys::BSMM_OP_BPROP, n, dy, w, dx, self.k, self.c, scale)
    }

    /// Weight gradient on the layout, `dW[i] = alpha·Σ_p x_p[:,c]ᵀ·dy_p[:,k] + beta·dW[i]`, over the
    /// `(x, dy)` pairs (for instance the time steps of an RNN sharing W), summed in fp32 before the
    /// single rounding.
    pub fn updat<T: Element>(&self, n: usize, pairs: &[(&[T], &[T])], dw: &mut [T], scale: Scale) -> Result<()> {
        if pairs.is_empty() || pairs.len() > i32::MAX as usize {
            return arg_error(Status::INVALID_VALUE, format!("need 1 to 2^31-1 (x, dy) pairs, got {}", pairs.len()));
        }
        for (x, dy) in pairs {
            self.check_slices::<T>(&[("x", x.len(), n.checked_mul(self.c)), ("dy", dy.len(), n.checked_mul(self.k))])?;
        }
        self.check_slices::<T>(&[("dw", dw.len(), Some(self.weight_len()))])?;
        self.check_gate(&scale)?;
        let n = i64_of(n, "N")?;
        let xs: Vec<*const c_void> = pairs.iter().map(|p| ptr_of(p.0)).collect();
        let dys: Vec<*const c_void> = pairs.iter().map(|p| ptr_of(p.1)).collect();
        let mut ws = self.workspace(sys::BSMM_OP_UPDAT, n)?;
        check(unsafe {
            sys::bsmm_updat(
                self.as_raw(),
                n,
                pairs.len() as i32,
                xs.as_ptr(),
                dys.as_ptr(),
                mut_ptr_of(dw),
                scale.alpha,
                scale.beta,
                gate_ptr(scale.gate),
                mut_ptr_of(&mut ws),
                ws.len() * 8,
                ptr::null_mut(),
            )
        })
    }

    /// Identity initialisation: block `i` at `(c, k)` is `scale·I` when `c % KB == k % CB`, else 0.
    pub fn identity_init<T: Element>(&self, w: &mut [T], scale: f32) -> Result<()> {
        self.check_slices::<T>(&[("w", w.len(), Some(self.weight_len()))])?;
        check(unsafe { sys::bsmm_identity_init(self.as_raw(), mut_ptr_of(w), scale, ptr::null_mut()) })
    }

    /// Weight normalisation per output feature into `y`: `y[:, j] = w[:, j] / sqrt(max(Σ w[:, j]², epsilon))`,
    /// times `gain[j]` when a gain (length K) is given.
    pub fn l2_normalize<T: Element>(&self, w: &[T], gain: Option<&[f32]>, y: &mut [T], epsilon: f32) -> Result<()> {
        let lw = Some(self.weight_len());
        self.check_slices::<T>(&[
            ("w", w.len(), lw),
            ("y", y.len(), lw),
            ("gain", gain.map_or(self.k, |g| g.len()), Some(self.k)),
        ])?;
        let mut ws = self.workspace(sys::BSMM_OP_L2_NORMALIZE, 0)?;
        check(unsafe {
            sys::bsmm_l2_normalize(
                self.as_raw(),
                ptr_of(w),
                gate_ptr(gain),
                mut_ptr_of(y),
                epsilon,
                mut_ptr_of(&mut ws),
                ws.len() * 8,
                ptr::null_mut(),
            )
        })
    }

    /// Gradient of [`Plan::l2_normalize`]: `dw` from `dy` and `w`; with a gain, also `dgain` (both length K).
    pub fn l2_normalize_grad<T: Element>(
        &self,
        dy: &[T],
        w: &[T],
        gain: Option<(&[f32], &mut [f32])>,
        dw: &mut [T],
        epsilon: f32,
    ) -> Result<()> {
        let lw = Some(self.weight_len());
        let (g, dg) = match gain {
            Some((g, dg)) => {
                self.check_slices::<T>(&[("gain", g.len(), Some(self.k)), ("dgain", dg.len(), Some(self.k))])?;
                (g.as_ptr(), dg.as_mut_ptr())
            }
            None => (ptr::null(), ptr::null_mut()),
        };
        self.check_slices::<T>(&[("dy", dy.len(), lw), ("w", w.len(), lw), ("dw", dw.len(), lw)])?;
        let mut ws = self.workspace(sys::BSMM_OP_L2_NORMALIZE_GRAD, 0)?;
        check(unsafe {
            sys::bsmm_l2_normalize_grad(
                self.as_raw(),
                ptr_of(dy),
                ptr_of(w),
                g,
                mut_ptr_of(dw),
                dg,
                epsilon,
                mut_ptr_of(&mut ws),
                ws.len() * 8,
                ptr::null_mut(),
            )
        })
    }
}
