//! Safe Rust API of blocksparse, computed by the library's CPU backend: block-sparse weight matrix
//! products `y = x·W` and their gradients on a fixed block layout ([`Plan`]), layer norm
//! ([`LayerNorm`]), sparse projections ([`SparseProj`]) and the plan-less ops of the modules
//! [`ew`], [`norms`], [`dropout`] and [`lstm`].
//!
//! Each plan type owns its C plan and frees it on drop, so no call can reach a destroyed plan; plans
//! are `Send + Sync`, so one can be shared by threads (`Arc<Plan>`) as the C contract allows. Every failing status becomes an
//! [`Error`] holding the library's message. Slice lengths are checked against the plan's shapes
//! before any call, so no call reads or writes outside a slice.
//!
//! ```no_run
//! use blocksparse::{Params, Plan, Scale};
//! let params = Params { block_size: 8, ..Params::default() };
//! let plan = Plan::new(&[1, 0, 1, 1], 2, 2, &params)?;          // CB = KB = 2, C = K = 16
//! let w = vec![0.5f32; plan.weight_len()];                        // (nnz, b, b)
//! let x = vec![1.0f32; 4 * plan.c()];                             // (N, C), N = 4
//! let mut y = vec![0.0f32; 4 * plan.k()];                         // (N, K)
//! plan.fprop(4, &x, &w, &mut y, Scale::default())?;
//! # Ok::<(), blocksparse::Error>(())
//! ```
mod error;
mod host;
mod layernorm;
mod library;
mod plan;
mod plan_shapes;
mod sparse_proj;
mod types;

pub mod dropout;
pub mod ew;
pub mod lstm;
pub mod norms;

pub use error::{Error, Result, Status};
pub use layernorm::{LayerNorm, LayerNormOp, LayerNormParams};
pub use library::{clear_last_error, device_count, dtype_size, last_status, version_number};
pub use plan::{Plan, Scale};
pub use sparse_proj::{SparseProj, SparseProjParams};
pub use types::{BFloat16, Backend, DType, Element, Float16, MathMode, Params};

/// Version of the loaded library, "major.minor.patch".
pub fn version() -> &'static str {
    error::static_str(unsafe { blocksparse_sys::bs_get_version_string() })
}

/// Build description of the loaded library (`key=value` lines).
pub fn build_info() -> &'static str {
    error::static_str(unsafe { blocksparse_sys::bs_get_build_info() })
}
