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
    /// `xᵢ ← e^{xᵢ}` over a slice, written to vectorise. `f32`: a polynomial (Cephes' expf:
    /// Cody–Waite reduction, degree-5 polynomial, the power of two put in the exponent bits),
    /// within 2 ulp of `exp` and clamped to [−87.3, 88.4] (results ≥ 1.2e-38, never infinite);
    /// `f64`: the standard library's `exp`, so f64 checks against the reference path stay exact.
    fn exp_in_place(x: &mut [Self]);
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
    #[inline(always)]
    fn exp_in_place(x: &mut [f32]) {
        for v in x.iter_mut() {
            let x = v.clamp(-87.336_55, 88.376_26);
            // n = round(x / ln 2) without a rounding instruction: adding 1.5·2²³ rounds to an integer.
            const SHIFT: f32 = 12_582_912.0;
            let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
            let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
            let mut p = 1.987_569_1e-4f32;
            p = p * r + 1.398_199_9e-3;
            p = p * r + 8.333_452e-3;
            p = p * r + 4.166_579_6e-2;
            p = p * r + 1.666_666_5e-1;
            p = p * r + 0.5;
            let y = p * r * r + r + 1.0;
            *v = y * f32::from_bits(((n as i32 + 127) as u32) << 23);
        }
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
    #[inline(always)]
    fn exp_in_place(x: &mut [f64]) {
        for v in x.iter_mut() {
            *v = v.exp();
        }
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

/// Defines `$name`, which runs the `#[inline(always)]` function `$kernel` compiled for the widest
/// vector instructions this CPU has (AVX-512, else AVX2 + FMA, else the baseline), chosen at run
/// time. Unlike [`simd`], whose closure LLVM may decline to inline when it is large, the kernel is
/// called directly from each `#[target_feature]` copy, so it is always compiled inside it.
macro_rules! simd_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident<T: Float>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $kernel:ident;) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: Float>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx512<T: Float>($($arg: $ty),*) -> $ret {
                    $kernel($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx2<T: Float>($($arg: $ty),*) -> $ret {
                    $kernel($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                {
                    // SAFETY: the CPU has just been checked for every feature `avx512` enables.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: as above, for AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $kernel($($arg),*)
        }
    };
}

pub(crate) use simd_fn;

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

/// `Z ← (X − c)·B` for rows of `X` (`rows × k`) whose entries are mostly the background value `c`
/// (an image's blank pixels): each row of `Z` is `Σⱼ (xⱼ − c)·B[j, :]` over the entries that differ
/// from `c`, so the work is proportional to the ink, not the image size. `B` is `k × n` row-major
/// (a layer's `Wᵀ`). Rows are split over `threads` (rayon::join); nothing is allocated.
#[allow(clippy::too_many_arguments)]
pub fn matmul_sparse_rows<T: Float>(
    x: &[T],
    rows: usize,
    k: usize,
    c: T,
    b: &[T],
    n: usize,
    z: &mut [T],
    threads: usize,
) {
    assert!(x.len() >= rows * k && b.len() >= k * n && z.len() >= rows * n, "matmul_sparse_rows: shapes");
    let (x, z) = (&x[..rows * k], &mut z[..rows * n]);
    // Splitting pays only for batches: a thread hand-off costs more than a few rows' work.
    if threads > 1 && rows >= 32 {
        let half = rows / 2;
        let (x0, x1) = x.split_at(half * k);
        let (z0, z1) = z.split_at_mut(half * n);
        rayon::join(
            || matmul_sparse_rows(x0, half, k, c, b, n, z0, threads / 2),
            || matmul_sparse_rows(x1, rows - half, k, c, b, n, z1, threads - threads / 2),
        );
        return;
    }
    sparse_rows_simd(x, k, c, b, n, z)
}

simd_fn! {
    fn sparse_rows_simd<T: Float>(x: &[T], k: usize, c: T, b: &[T], n: usize, z: &mut [T]) -> () = sparse_rows;
}

/// The rows of [`matmul_sparse_rows`]. A row's inputs are taken 256 at a time: their entries
/// different from `c` are first listed without branches (index and value), then each block of
/// output columns adds up its rows of `B` over that list, accumulators in registers.
#[inline(always)]
fn sparse_rows<T: Float>(x: &[T], k: usize, c: T, b: &[T], n: usize, z: &mut [T]) {
    const CHUNK: usize = 256;
    let mut idx = [0u32; CHUNK];
    let mut val = [T::zero(); CHUNK];
    for (xr, zr) in x.chunks_exact(k).zip(z.chunks_exact_mut(n)) {
        zr.fill(T::zero());
        for (start, xs) in (0..k).step_by(CHUNK).zip(xr.chunks(CHUNK)) {
            let mut count = 0;
            // Blank stretches (an image's margins) are skipped 16 entries at a time.
            for (s16, xs16) in xs.chunks(16).enumerate() {
                if xs16.iter().fold(true, |blank, &xv| blank & (xv == c)) {
                    continue;
                }
                for (j, &xv) in xs16.iter().enumerate() {
                    let v = xv - c;
                    idx[count] = (start + s16 * 16 + j) as u32;
                    val[count] = v;
                    count += (v != T::zero()) as usize;
                }
            }
            if count == 0 {
                continue;
            }
            let (idx, val) = (&idx[..count], &val[..count]);
            let mut col = 0;
            while col + 64 <= n {
                sparse_block::<T, 64>(idx, val, b, n, col, &mut zr[col..col + 64]);
                col += 64;
            }
            while col + 16 <= n {
                sparse_block::<T, 16>(idx, val, b, n, col, &mut zr[col..col + 16]);
                col += 16;
            }
            while col < n {
                sparse_block::<T, 1>(idx, val, b, n, col, &mut zr[col..col + 1]);
                col += 1;
            }
        }
    }
}

#[inline(always)]
fn sparse_block<T: Float, const W: usize>(idx: &[u32], val: &[T], b: &[T], n: usize, col: usize, out: &mut [T]) {
    // Two accumulator sets, two entries per step: the additions of one do not wait on the other's.
    let mut acc: [T; W] = out.try_into().expect("block width");
    let mut acc2 = [T::zero(); W];
    let pairs = idx.len() / 2;
    for p in 0..pairs {
        let (j0, j1) = (idx[2 * p] as usize * n + col, idx[2 * p + 1] as usize * n + col);
        let (v0, v1) = (val[2 * p], val[2 * p + 1]);
        let r0: &[T; W] = b[j0..j0 + W].try_into().expect("block width");
        let r1: &[T; W] = b[j1..j1 + W].try_into().expect("block width");
        for i in 0..W {
            acc[i] += v0 * r0[i];
            acc2[i] += v1 * r1[i];
        }
    }
    if idx.len() % 2 == 1 {
        let (j, v) = (idx[idx.len() - 1] as usize * n + col, val[idx.len() - 1]);
        let r: &[T; W] = b[j..j + W].try_into().expect("block width");
        for i in 0..W {
            acc[i] += v * r[i];
        }
    }
    for i in 0..W {
        out[i] = acc[i] + acc2[i];
    }
}

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

    #[test]
    fn sparse_rows_product_matches_the_dense_one() {
        // Widths that exercise the 64-, 16- and 1-column blocks; rows mostly the background c.
        for (rows, k, n) in [(1, 30, 800), (40, 50, 128), (3, 7, 93), (33, 9, 1)] {
            let c = -0.25;
            let x: Vec<f64> =
                (0..rows * k).map(|i| if (i * 7) % 5 == 0 { (i % 13) as f64 / 13.0 } else { c }).collect();
            let b: Vec<f64> = (0..k * n).map(|i| ((i * 31) % 17) as f64 / 17.0 - 0.5).collect();
            let shifted: Vec<f64> = x.iter().map(|v| v - c).collect();
            let want = naive(rows, n, k, &shifted, &b);
            for threads in [1, 2] {
                let mut z = vec![9.0; rows * n];
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| matmul_sparse_rows(&x, rows, k, c, &b, n, &mut z, threads));
                for (i, (p, q)) in z.iter().zip(&want).enumerate() {
                    assert!((p - q).abs() < 1e-12, "{rows}×{k}×{n}, {threads} thread(s), entry {i}: {p} vs {q}");
                }
            }
        }
    }

    #[test]
    fn f32_exp_is_within_two_ulp() {
        let xs: Vec<f32> = (-8700..=8830).map(|i| i as f32 * 0.01 + 0.003).collect();
        let mut got = xs.clone();
        f32::exp_in_place(&mut got);
        for (&x, &g) in xs.iter().zip(&got) {
            let want = (x as f64).exp();
            let ulp = (want as f32).to_bits().abs_diff(g.to_bits());
            assert!(ulp <= 2, "exp({x}) = {g}, want {want} ({ulp} ulp)");
        }
        let mut ends = [-1000.0f32, -87.4, 88.5, 1000.0, f32::NEG_INFINITY];
        f32::exp_in_place(&mut ends);
        assert!(ends.iter().all(|v| v.is_finite() && *v > 0.0), "{ends:?}");
    }
}
