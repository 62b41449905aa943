//! The one thin wrapper around the GEMM crate, and the scalar type the library is generic over.
//!
//! All matrices are row-major slices. A transposed operand is read through swapped strides, never
//! copied. This file holds the crate's only `unsafe` block.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

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

/// Products smaller than this many multiply-adds run on one thread: splitting them costs more in
/// synchronisation than it saves (measured; see docs/design.md).
pub const PARALLEL_MIN_FLOP: usize = 2_000_000;

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
}

/// `C ← A·B` (or `C ← C + A·B` when `accumulate`), with `C` m×n, `A` m×k, `B` k×n after any transposes.
///
/// `threads` caps the parallelism; small products always run on the calling thread.
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
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(T::zero());
        }
        return;
    }
    // Element (i, p) of A sits at i·rs + p·cs.
    let (a_rs, a_cs) = if a.transposed { (1, m) } else { (k, 1) };
    let (b_rs, b_cs) = if b.transposed { (1, k) } else { (n, 1) };
    let parallelism = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOP {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above guarantee every element addressed by the strides lies inside the
    // slices; `c` is borrowed mutably and cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.data.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
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
