//! The one thin wrapper around the GEMM crate, and the scalar type the library is generic over.
//!
//! All matrices are row-major slices. A transposed operand is read through swapped strides, never
//! copied. The GEMM crate is faer; nothing else in the crate knows that.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use faer::{Accum, MatMut, MatRef, Par};

/// The scalar type of a network: `f32` for training speed, `f64` for exact teaching and gradient checks.
pub trait Float:
    num_traits::Float
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + faer::traits::ComplexField
    + 'static
{
    /// The type's name as stored in model files ("F32"/"F64", safetensors' spelling).
    const DTYPE: &'static str;
    /// Converts from `f64` (rounding to the nearest representable value).
    fn of(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn f64(self) -> f64;
}

impl Float for f32 {
    const DTYPE: &'static str = "F32";
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "F64";
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}

/// Products with fewer multiply-adds than this run on one thread: below it, splitting costs more in
/// synchronisation than it saves (measured: every output-layer shape, ≤ 1M, got slower on two
/// threads; 784→128 layers, 12.8M, gained 1.2–1.5×; see docs/design.md).
pub const PARALLEL_MIN_FLOP: usize = 4_000_000;

/// One operand of a product: a row-major matrix, read as is or transposed.
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a, T> {
    /// The stored elements, row-major.
    pub data: &'a [T],
    /// Read the stored matrix transposed.
    pub transposed: bool,
}

impl<'a, T> Operand<'a, T> {
    /// The stored matrix, as is.
    pub fn plain(data: &'a [T]) -> Self {
        Self { data, transposed: false }
    }
    /// The stored matrix, transposed (by strides, without a copy).
    pub fn t(data: &'a [T]) -> Self {
        Self { data, transposed: true }
    }

    /// A view of the operand as an `rows × cols` matrix (after any transpose).
    fn view(&self, rows: usize, cols: usize) -> MatRef<'a, T> {
        if self.transposed {
            MatRef::from_row_major_slice(&self.data[..rows * cols], cols, rows).transpose()
        } else {
            MatRef::from_row_major_slice(&self.data[..rows * cols], rows, cols)
        }
    }
}

/// `C ← A·B` (or `C ← C + A·B` when `accumulate`), with `C` m×n, `A` m×k, `B` k×n after any transposes.
///
/// With `threads > 1` a large product is split by rows of `C` into one sequential product per
/// thread (rayon::join), which allocates nothing once each thread's packing buffer exists.
#[allow(clippy::too_many_arguments)]
pub fn matmul<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    c: &mut [T],
    accumulate: bool,
    threads: usize,
) {
    assert!(a.data.len() >= m * k, "matmul: A holds {} < {m}×{k}", a.data.len());
    assert!(b.data.len() >= k * n, "matmul: B holds {} < {k}×{n}", b.data.len());
    assert!(c.len() >= m * n, "matmul: C holds {} < {m}×{n}", c.len());
    if m == 0 || n == 0 {
        return;
    }
    let a = a.view(m, k);
    let b = b.view(k, n);
    let c = MatMut::from_row_major_slice_mut(&mut c[..m * n], m, n);
    let parts = if m * n * k >= PARALLEL_MIN_FLOP { threads.min(m / 16).max(1) } else { 1 };
    product(c, a, b, accumulate, parts);
}

fn product<T: Float>(c: MatMut<'_, T>, a: MatRef<'_, T>, b: MatRef<'_, T>, accumulate: bool, parts: usize) {
    if parts <= 1 {
        let beta = if accumulate { Accum::Add } else { Accum::Replace };
        faer::linalg::matmul::matmul(c, beta, a, b, T::one(), Par::Seq);
        return;
    }
    let m = c.nrows();
    let left = parts / 2;
    let mid = m * left / parts;
    let (c_top, c_bottom) = c.split_at_row_mut(mid);
    let (a_top, a_bottom) = a.split_at_row(mid);
    rayon::join(
        || product(c_top, a_top, b, accumulate, left),
        || product(c_bottom, a_bottom, b, accumulate, parts - left),
    );
}

/// Runs `f` compiled for the widest vector instructions this CPU has (AVX-512, else AVX2 + FMA,
/// else the baseline), chosen at run time so the binary stays portable. `f` should call
/// `#[inline(always)]` loops so they are compiled inside the chosen instruction set.
#[inline(always)]
pub fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
        fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the CPU has just been checked for every feature `avx512` enables.
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as above, for AVX2 and FMA.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `Σ xᵢ²`, vectorised (for gradient norms).
pub fn sum_squares<T: Float>(x: &[T]) -> T {
    #[inline(always)]
    fn kernel<T: Float>(x: &[T]) -> T {
        let mut acc = [T::zero(); 16];
        let chunks = x.chunks_exact(16);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..16 {
                acc[i] += c[i] * c[i];
            }
        }
        acc.iter().copied().sum::<T>() + rest.iter().map(|&v| v * v).sum::<T>()
    }
    simd(|| kernel(x))
}

/// Runs one product on the calling thread, so that it allocates its packing buffers now rather
/// than inside a training step.
pub fn warm_up_threads<T: Float>() {
    let x = vec![T::one(); 256 * 256];
    let mut y = vec![T::zero(); 256 * 256];
    matmul(256, 256, 256, Operand::plain(&x), Operand::plain(&x), &mut y, false, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(r: usize, c: usize, x: &[f64]) -> Vec<f64> {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = x[i * c + j];
            }
        }
        t
    }

    #[test]
    fn all_transpose_combinations_match_naive_product() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(m, n, k, &a, &b);
        let at = transpose(m, k, &a);
        let bt = transpose(k, n, &b);
        for (ao, bo) in [
            (Operand::plain(&a[..]), Operand::plain(&b[..])),
            (Operand::t(&at[..]), Operand::plain(&b[..])),
            (Operand::plain(&a[..]), Operand::t(&bt[..])),
            (Operand::t(&at[..]), Operand::t(&bt[..])),
        ] {
            let mut c = vec![1.0; m * n];
            matmul(m, n, k, ao, bo, &mut c, false, 1);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-12);
            }
            matmul(m, n, k, ao, bo, &mut c, true, 2);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - 2.0 * y).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn empty_inner_dimension_gives_zero() {
        let mut c = vec![3.0f32; 4];
        matmul(2, 2, 0, Operand::plain(&[]), Operand::plain(&[]), &mut c, false, 1);
        assert_eq!(c, vec![0.0; 4]);
    }
}
