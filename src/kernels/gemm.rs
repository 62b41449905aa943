//! The one thin wrapper around the GEMM crate.
//!
//! All matrices are row-major slices. A transposed operand is read through swapped strides, never
//! copied. The GEMM crate is faer; nothing else in the crate knows that.

use faer::{Accum, MatMut, MatRef, Par};

use super::float::Float;

/// Products with fewer multiply-adds than this run on one thread: below it, splitting costs more in
/// synchronisation than it saves (measured: docs/design.md, "Kernel timings").
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

/// `C ← (Aᵀ·B)[rows]`: rows `first..first + rows` of the product of `Aᵀ` (`A` is `k × m`) and `B`
/// (`k × n`), into `C` (`rows × n`), on the calling thread. A weight gradient `δᵀX` a block of
/// output rows at a time, so that the optimizer can update that block while it is in cache.
#[allow(clippy::too_many_arguments)]
pub fn matmul_at_b_rows<T: Float>(
    k: usize,
    m: usize,
    n: usize,
    a: &[T],
    b: &[T],
    first: usize,
    rows: usize,
    c: &mut [T],
) {
    assert!(
        a.len() >= k * m && b.len() >= k * n && c.len() >= rows * n && first + rows <= m,
        "matmul_at_b_rows: shapes"
    );
    if rows == 0 || n == 0 {
        return;
    }
    let at = MatRef::from_row_major_slice(&a[..k * m], k, m).subcols(first, rows).transpose();
    let b = MatRef::from_row_major_slice(&b[..k * n], k, n);
    let c = MatMut::from_row_major_slice_mut(&mut c[..rows * n], rows, n);
    faer::linalg::matmul::matmul(c, Accum::Replace, at, b, T::one(), Par::Seq);
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
    fn row_blocks_of_a_transposed_product_match_the_whole() {
        let (k, m, n) = (7, 10, 5);
        let a: Vec<f64> = (0..k * m).map(|i| ((i * 13) % 11) as f64 - 5.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 7) % 9) as f64 / 3.0).collect();
        let want = naive(m, n, k, &transpose(k, m, &a), &b);
        for (first, rows) in [(0, 10), (0, 3), (3, 4), (9, 1), (4, 0)] {
            let mut c = vec![f64::NAN; rows * n];
            matmul_at_b_rows(k, m, n, &a, &b, first, rows, &mut c);
            for (p, q) in c.iter().zip(&want[first * n..(first + rows) * n]) {
                assert!((p - q).abs() < 1e-12, "rows {first}..{}: {p} vs {q}", first + rows);
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
