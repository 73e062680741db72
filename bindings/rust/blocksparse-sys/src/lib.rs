//! Raw declarations of the blocksparse C ABI (`include/blocksparse/bs_types.h`, `bs_core.h`,
//! `bsmm.h`), written by hand from the headers and nothing more: see the `blocksparse` crate for the
//! safe API. Enums are plain `i32` constants, not Rust enums, because a later library may return
//! values this crate does not know (an unknown discriminant in a Rust enum is undefined behaviour).
#![allow(non_camel_case_types)]
use std::ffi::c_void;
use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::c_char;

pub type bs_status_t = i32;
pub const BS_STATUS_SUCCESS: bs_status_t = 0;
pub const BS_STATUS_NULL_POINTER: bs_status_t = 1;
pub const BS_STATUS_INVALID_VALUE: bs_status_t = 2;
pub const BS_STATUS_SHAPE_MISMATCH: bs_status_t = 3;
pub const BS_STATUS_OVERFLOW: bs_status_t = 4;
pub const BS_STATUS_INVALID_LAYOUT: bs_status_t = 5;
pub const BS_STATUS_WORKSPACE_TOO_SMALL: bs_status_t = 6;
pub const BS_STATUS_MISALIGNED_POINTER: bs_status_t = 7;
pub const BS_STATUS_STRUCT_SIZE_MISMATCH: bs_status_t = 8;
pub const BS_STATUS_WRONG_BACKEND: bs_status_t = 9;
pub const BS_STATUS_WRONG_DEVICE: bs_status_t = 10;
pub const BS_STATUS_NOT_SUPPORTED: bs_status_t = 100;
pub const BS_STATUS_BACKEND_UNAVAILABLE: bs_status_t = 101;
pub const BS_STATUS_ARCH_NOT_SUPPORTED: bs_status_t = 102;
pub const BS_STATUS_OUT_OF_MEMORY: bs_status_t = 200;
pub const BS_STATUS_EXECUTION_FAILED: bs_status_t = 201;
pub const BS_STATUS_INTERNAL_ERROR: bs_status_t = 202;

pub type bs_dtype_t = i32;
pub const BS_DTYPE_F32: bs_dtype_t = 0;
pub const BS_DTYPE_F16: bs_dtype_t = 1;
pub const BS_DTYPE_BF16: bs_dtype_t = 2;

pub type bs_backend_t = i32;
pub const BS_BACKEND_CPU: bs_backend_t = 0;
pub const BS_BACKEND_CUDA: bs_backend_t = 1;

pub type bs_math_mode_t = i32;
pub const BS_MATH_DEFAULT: bs_math_mode_t = 0;
pub const BS_MATH_TF32: bs_math_mode_t = 1;

/// A `cudaStream_t`; NULL is the legacy default stream. Ignored by CPU plans.
pub type bs_stream_t = *mut c_void;

/// The opaque plan object (never constructed in Rust).
#[repr(C)]
pub struct bsmm_plan_s {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}
pub type bsmm_plan_t = *mut bsmm_plan_s;
pub type const_bsmm_plan_t = *const bsmm_plan_s;

/// `bsmm_params_t`: fill with `bsmm_params_init(&mut p, size_of::<bsmm_params_t>())`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bsmm_params_t {
    pub struct_size: u32,
    pub backend: i32,
    pub device: i32,
    pub block_size: i32,
    pub feature_axis: i32,
    pub dtype: i32,
    pub math_mode: i32,
    pub num_threads: i32,
}

pub type bsmm_attr_t = i32;
pub const BSMM_ATTR_C: bsmm_attr_t = 0;
pub const BSMM_ATTR_K: bsmm_attr_t = 1;
pub const BSMM_ATTR_CB: bsmm_attr_t = 2;
pub const BSMM_ATTR_KB: bsmm_attr_t = 3;
pub const BSMM_ATTR_BLOCK_SIZE: bsmm_attr_t = 4;
pub const BSMM_ATTR_NNZ_BLOCKS: bsmm_attr_t = 5;
pub const BSMM_ATTR_FEATURE_AXIS: bsmm_attr_t = 6;
pub const BSMM_ATTR_DTYPE: bsmm_attr_t = 7;
pub const BSMM_ATTR_BACKEND: bsmm_attr_t = 8;
pub const BSMM_ATTR_DEVICE: bsmm_attr_t = 9;
pub const BSMM_ATTR_MATH_MODE: bsmm_attr_t = 10;
pub const BSMM_ATTR_NUM_THREADS: bsmm_attr_t = 11;

pub type bsmm_op_t = i32;
pub const BSMM_OP_FPROP: bsmm_op_t = 0;
pub const BSMM_OP_BPROP: bsmm_op_t = 1;
pub const BSMM_OP_UPDAT: bsmm_op_t = 2;
pub const BSMM_OP_L2_NORMALIZE: bsmm_op_t = 3;
pub const BSMM_OP_L2_NORMALIZE_GRAD: bsmm_op_t = 4;
pub const BSMM_OP_IDENTITY_INIT: bsmm_op_t = 5;

extern "C" {
    pub fn bs_get_version() -> i32;
    pub fn bs_get_version_string() -> *const c_char;
    pub fn bs_get_build_info() -> *const c_char;
    pub fn bs_status_name(status: bs_status_t) -> *const c_char;
    pub fn bs_status_description(status: bs_status_t) -> *const c_char;
    pub fn bs_get_last_error(buf: *mut c_char, buf_bytes: usize, msg_bytes: *mut usize) -> bs_status_t;
    pub fn bs_get_last_status() -> bs_status_t;
    pub fn bs_clear_last_error() -> bs_status_t;
    pub fn bs_dtype_size(dtype: bs_dtype_t, bytes: *mut usize) -> bs_status_t;
    pub fn bs_get_device_count(backend: bs_backend_t, count: *mut i32) -> bs_status_t;

    pub fn bsmm_params_init(params: *mut bsmm_params_t, struct_size: usize) -> bs_status_t;
    pub fn bsmm_create(
        plan: *mut bsmm_plan_t,
        params: *const bsmm_params_t,
        layout: *const u8,
        CB: i64,
        KB: i64,
    ) -> bs_status_t;
    pub fn bsmm_create_bsr(
        plan: *mut bsmm_plan_t,
        params: *const bsmm_params_t,
        CB: i64,
        KB: i64,
        row_ptr: *const i64,
        col_idx: *const i64,
    ) -> bs_status_t;
    pub fn bsmm_destroy(plan: bsmm_plan_t) -> bs_status_t;
    pub fn bsmm_get_attr(plan: const_bsmm_plan_t, attr: bsmm_attr_t, value: *mut i64) -> bs_status_t;
    pub fn bsmm_get_weight_shape(plan: const_bsmm_plan_t, shape: *mut i64) -> bs_status_t;
    pub fn bsmm_get_input_shape(plan: const_bsmm_plan_t, N: i64, shape: *mut i64) -> bs_status_t;
    pub fn bsmm_get_output_shape(plan: const_bsmm_plan_t, N: i64, shape: *mut i64) -> bs_status_t;
    pub fn bsmm_block_coord(plan: const_bsmm_plan_t, block: i64, c: *mut i64, k: *mut i64) -> bs_status_t;
    pub fn bsmm_get_layout(plan: const_bsmm_plan_t, layout: *mut u8, layout_len: i64) -> bs_status_t;
    pub fn bsmm_get_workspace_size(plan: const_bsmm_plan_t, op: bsmm_op_t, N: i64, bytes: *mut usize) -> bs_status_t;
    pub fn bsmm_fprop(
        plan: const_bsmm_plan_t,
        N: i64,
        x: *const c_void,
        w: *const c_void,
        y: *mut c_void,
        alpha: f32,
        beta: f32,
        gate: *const f32,
        workspace: *mut c_void,
        workspace_bytes: usize,
        stream: bs_stream_t,
    ) -> bs_status_t;
    pub fn bsmm_bprop(
        plan: const_bsmm_plan_t,
        N: i64,
        dy: *const c_void,
        w: *const c_void,
        dx: *mut c_void,
        alpha: f32,
        beta: f32,
        gate: *const f32,
        workspace: *mut c_void,
        workspace_bytes: usize,
        stream: bs_stream_t,
    ) -> bs_status_t;
    pub fn bsmm_updat(
        plan: const_bsmm_plan_t,
        N: i64,
        n_pairs: i32,
        x: *const *const c_void,
        dy: *const *const c_void,
        dw: *mut c_void,
        alpha: f32,
        beta: f32,
        gate: *const f32,
        workspace: *mut c_void,
        workspace_bytes: usize,
        stream: bs_stream_t,
    ) -> bs_status_t;
    pub fn bsmm_identity_init(plan: const_bsmm_plan_t, w: *mut c_void, scale: f32, stream: bs_stream_t) -> bs_status_t;
    pub fn bsmm_l2_normalize(
        plan: const_bsmm_plan_t,
        w: *const c_void,
        gain: *const f32,
        y: *mut c_void,
        epsilon: f32,
        workspace: *mut c_void,
        workspace_bytes: usize,
        stream: bs_stream_t,
    ) -> bs_status_t;
    pub fn bsmm_l2_normalize_grad(
        plan: const_bsmm_plan_t,
        dy: *const c_void,
        w: *const c_void,
        gain: *const f32,
        dw: *mut c_void,
        dgain: *mut f32,
        epsilon: f32,
        workspace: *mut c_void,
        workspace_bytes: usize,
        stream: bs_stream_t,
    ) -> bs_status_t;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_struct_matches_the_library() {
        assert_eq!(std::mem::size_of::<bsmm_params_t>(), 32);
        let mut p = bsmm_params_t::default();
        let st = unsafe { bsmm_params_init(&mut p, std::mem::size_of::<bsmm_params_t>()) };
        assert_eq!(st, BS_STATUS_SUCCESS);
        assert_eq!((p.struct_size, p.block_size, p.feature_axis, p.dtype), (32, 32, 1, BS_DTYPE_F32));
        assert!(unsafe { bs_get_version() } > 0);
    }
}
