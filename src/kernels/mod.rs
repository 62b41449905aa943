//! The numeric kernels, in one place: the scalar type, the GEMM wrapper, the products that skip
//! blank inputs, element-wise passes and reductions, and the run-time choice of vector
//! instructions. Every `unsafe` of the library is in this module (the rest of the crate denies
//! `unsafe_code`), each `unsafe fn` with a `# Safety` section and each `unsafe` block with its
//! `// SAFETY:` argument.
//!
//! * [`float`]: the [`Float`] trait (`f32`, `f64`).
//! * [`cpu`]: the CPU's instruction sets, detected once ([`Isa`]), and the dispatch to them
//!   ([`simd`] and the crate's `simd_fn!` macro).
//! * [`gemm`]: the one thin wrapper around the GEMM crate ([`matmul`], [`matmul_at_b_rows`]).
//! * [`sparse_infer`]: inference's first-layer product that skips blank inputs, four rows at a time
//!   ([`matmul_sparse_rows`]: small batches, and CPUs without AVX-512F).
//! * [`sparse_train`]: the first-layer products that skip blank inputs from one listing per batch:
//!   training's ([`matmul_sparse_x_wt`], [`matmul_sparse_dt_x`], and on `W` and `∂L/∂W` held in
//!   their packed layout for an epoch, [`matmul_sparse_x_listed_in`], [`matmul_sparse_dt_x_packed`],
//!   [`pack_rows`]) and batch inference's ([`matmul_sparse_x_packed`]).
//! * [`elementwise`]: element-wise passes (the exponential), and [`prefetch`].
//! * [`dropout`]: dropout's masks, 8 rows' generators side by side ([`dropout_rows`]).
//! * [`reductions`]: [`count_not_equal`], [`sum`], [`sum_squares`].
//! * [`peak`]: the core's measured FMA peak, for the benchmarks' shares of peak ([`fma_peak_gflops`]).
//! * [`subnormal`]: subnormal floats flushed to zero on the threads that train ([`FlushToZero`]).

pub mod cpu;
pub mod dropout;
pub mod elementwise;
pub mod float;
pub mod gemm;
pub mod peak;
pub mod reductions;
pub mod sparse_infer;
pub mod sparse_train;
pub mod subnormal;

pub(crate) use cpu::simd_fn;
pub use cpu::{Isa, Vendor, simd, vendor};
pub use dropout::{DROPOUT_LANES, dropout_rows, dropout_rows_vector, xoshiro_step};
pub use elementwise::{prefetch, softmax_rows_short};
pub use float::Float;
pub use gemm::{Operand, PARALLEL_MIN_FLOP, matmul, matmul_at_b_rows, warm_up_threads};
pub use peak::{fma_peak_gflops, fma_peak_gflops_over};
pub use reductions::{count_not_equal, sum, sum_squares};
#[doc(hidden)]
pub use sparse_infer::sparse_tiles_on;
pub use sparse_infer::{SPARSE_TILE, matmul_sparse_rows};
pub use sparse_train::{
    PACKED_CHUNK_ROWS, PackedWeights, SparseScratch, matmul_sparse_dt_x, matmul_sparse_dt_x_packed,
    matmul_sparse_dt_x_rows, matmul_sparse_x_listed, matmul_sparse_x_listed_in, matmul_sparse_x_packed,
    matmul_sparse_x_packed_relu, matmul_sparse_x_wt, pack_rows, packed_len, unpack_rows,
};
pub use subnormal::{FlushToZero, flush_to_zero_for_good};
