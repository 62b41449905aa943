//! Reductions over a slice, vectorised: how many entries differ from a value, a sum, a sum of squares.

use super::cpu::{simd, simd_fn};
use super::float::Float;

simd_fn! {
    /// How many entries of `x` differ from `c` (vectorised).
    pub fn count_not_equal<T: Float>(x: &[T], c: T) -> usize = count_not_equal_kernel;
}

#[inline(always)]
fn count_not_equal_kernel<T: Float>(x: &[T], c: T) -> usize {
    {
        let mut counts = [0u32; 16];
        let chunks = x.chunks_exact(16);
        let rest = chunks.remainder().iter().filter(|&&v| v != c).count();
        for ch in chunks {
            for i in 0..16 {
                counts[i] += (ch[i] != c) as u32;
            }
        }
        counts.iter().map(|&n| n as usize).sum::<usize>() + rest
    }
}

simd_fn! {
    /// `Σ xᵢ`, vectorised: 16 running sums, added together at the end (a fixed order, so the
    /// same bits on every run; not the left-to-right order of a plain loop).
    pub fn sum<T: Float>(x: &[T]) -> T = sum_kernel;
}

#[inline(always)]
fn sum_kernel<T: Float>(x: &[T]) -> T {
    let mut acc = [T::zero(); 16];
    let chunks = x.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..16 {
            acc[i] += c[i];
        }
    }
    acc.iter().copied().sum::<T>() + rest.iter().copied().sum::<T>()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_not_equal_counts_whole_chunks_and_the_rest() {
        for len in [0, 5, 16, 37] {
            let x: Vec<f32> = (0..len).map(|i| if i % 3 == 0 { 0.5 } else { 0.0 }).collect();
            assert_eq!(count_not_equal(&x, 0.0), x.iter().filter(|&&v| v != 0.0).count(), "len {len}");
        }
        // An unordered compare: a NaN differs from everything.
        assert_eq!(count_not_equal(&[f64::NAN, 1.0, 1.0], 1.0), 1);
    }

    #[test]
    fn sum_adds_every_entry() {
        for len in [0, 7, 16, 53] {
            let x: Vec<f64> = (0..len).map(|i| (i as f64 - 20.0) * 0.25).collect();
            assert_eq!(sum(&x), x.iter().sum::<f64>(), "len {len}");
        }
    }

    #[test]
    fn sum_squares_adds_every_entry() {
        let x: Vec<f64> = (0..37).map(|i| i as f64 - 18.0).collect();
        assert_eq!(sum_squares(&x), x.iter().map(|v| v * v).sum::<f64>());
        assert_eq!(sum_squares::<f32>(&[]), 0.0);
    }
}
