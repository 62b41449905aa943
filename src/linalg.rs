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
/// (an image's blank pixels): a product with `xⱼ − c = 0` adds nothing, so it is skipped. `B` is
/// `k × n` row-major (a layer's `Wᵀ`). Rows are split over `threads` (rayon::join); nothing is
/// allocated.
///
/// Rows go [`SPARSE_TILE`] at a time: the tile's inputs that differ from `c` in *any* of its rows are
/// listed and packed (index, and the tile's values there), then each block of output columns adds up
/// the rows of `B` at those inputs, the tile's accumulators in registers. Each row of `B` read is used
/// for every row of the tile, and on MNIST four digits together ink 38% of the pixels (one: 19%, the
/// dense product: 100%), so a tile does 2.6× less arithmetic than the dense product.
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
        let half = (rows / 2).next_multiple_of(SPARSE_TILE);
        let (x0, x1) = x.split_at(half * k);
        let (z0, z1) = z.split_at_mut(half * n);
        rayon::join(
            || matmul_sparse_rows(x0, half, k, c, b, n, z0, threads / 2),
            || matmul_sparse_rows(x1, rows - half, k, c, b, n, z1, threads - threads / 2),
        );
        return;
    }
    sparse_tiles_dispatch(x, k, c, b, n, z)
}

/// Rows per tile of [`matmul_sparse_rows`]: with more, the tile's ink covers more of the image
/// (MNIST: 1 row 19%, 2: 29%, 4: 38%, 8: 45%, 16: 51% of the pixels); with fewer, each row of `B`
/// loaded from cache feeds fewer multiply-adds (4 rows × 64 columns: 16 accumulator registers,
/// 4 loads and 4 broadcasts per 16 fused multiply-adds).
pub const SPARSE_TILE: usize = 4;

/// The instruction sets [`sparse_tiles`] is compiled for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Isa {
    Avx512,
    Avx2,
    Baseline,
}

impl Isa {
    /// The widest this CPU has.
    fn detected() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }
}

/// [`sparse_tiles`] compiled for the widest vector instructions present, with an output block as
/// wide as the registers allow (`NR` columns × [`SPARSE_TILE`] rows of accumulators).
fn sparse_tiles_dispatch<T: Float>(x: &[T], k: usize, c: T, b: &[T], n: usize, z: &mut [T]) {
    sparse_tiles_on(Isa::detected(), x, k, c, b, n, z)
}

/// [`sparse_tiles`] for instruction set `isa`, which the CPU must have (tests run each one).
fn sparse_tiles_on<T: Float>(isa: Isa, x: &[T], k: usize, c: T, b: &[T], n: usize, z: &mut [T]) {
    let f32 = std::mem::size_of::<T>() == 4;
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
        fn avx512<T: Float>(x: &[T], k: usize, c: T, b: &[T], n: usize, z: &mut [T], f32: bool) {
            // 32 zmm registers: 16 accumulators of 16 f32 (or 8 f64), 4 for the row of B.
            if f32 {
                sparse_tiles::<T, 64, true, true>(x, k, c, b, n, z)
            } else {
                sparse_tiles::<T, 32, true, true>(x, k, c, b, n, z)
            }
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<T: Float>(x: &[T], k: usize, c: T, b: &[T], n: usize, z: &mut [T], f32: bool) {
            // 16 ymm registers: 8 accumulators, 2 for the row of B.
            if f32 {
                sparse_tiles::<T, 16, true, false>(x, k, c, b, n, z)
            } else {
                sparse_tiles::<T, 8, true, false>(x, k, c, b, n, z)
            }
        }
        match isa {
            // SAFETY: `isa` is one the CPU has (`Isa::detected`, or checked by the test calling).
            Isa::Avx512 => return unsafe { avx512(x, k, c, b, n, z, f32) },
            // SAFETY: as above, for AVX2 and FMA.
            Isa::Avx2 => return unsafe { avx2(x, k, c, b, n, z, f32) },
            Isa::Baseline => {}
        }
    }
    // Without FMA instructions `mul_add` would be a library call per element: multiply, then add.
    if f32 {
        sparse_tiles::<T, 8, false, false>(x, k, c, b, n, z)
    } else {
        sparse_tiles::<T, 4, false, false>(x, k, c, b, n, z)
    }
}

/// Inputs per list of [`sparse_tiles`] (a tile's list and packed values live on the stack).
const SPARSE_CHUNK: usize = 128;
/// Tiles that share each block of `B`: one group's rows of `B` for one chunk of inputs and one
/// block of output columns (128 × 64 f32: 32 KB) stay in L1 while every tile of the group uses
/// them, instead of coming from L2, or L3 when `B` is large (784-800: 2.5 MB), once per tile.
/// Chunk and group sizes were chosen by measurement (`examples/bench_infer.rs`, 784-128-10 and
/// 784-800-10: 256 × 8, 192 × 8, 128 × 4, 128 × 16 and 64 × 8 were 5–20% slower).
const SPARSE_GROUP: usize = 8;

/// Room for one row's packed values: a chunk, plus a vector's width written past the last one.
const PACK_STRIDE: usize = SPARSE_CHUNK + 16;

/// The listed inputs of a group's tiles for one chunk: positions, and each row's `x − c` there
/// (row `r` of a tile at `packed[r * PACK_STRIDE..]`).
struct TileLists<T> {
    idx: [[u32; PACK_STRIDE]; SPARSE_GROUP],
    packed: [[T; PACK_STRIDE * SPARSE_TILE]; SPARSE_GROUP],
    count: [usize; SPARSE_GROUP],
}

/// The rows of [`matmul_sparse_rows`] on one thread: groups of full tiles of [`SPARSE_TILE`] rows,
/// then the remaining rows as tiles of one. `AVX512`: compiled for, and running on, AVX-512.
#[inline(always)]
fn sparse_tiles<T: Float, const NR: usize, const FMA: bool, const AVX512: bool>(
    x: &[T],
    k: usize,
    c: T,
    b: &[T],
    n: usize,
    z: &mut [T],
) {
    const MR: usize = SPARSE_TILE;
    let mut lists = TileLists {
        idx: [[0u32; PACK_STRIDE]; SPARSE_GROUP],
        packed: [[T::zero(); PACK_STRIDE * SPARSE_TILE]; SPARSE_GROUP],
        count: [0; SPARSE_GROUP],
    };
    z.fill(T::zero());
    let rows = x.len() / k.max(1);
    let full = rows / MR * MR;
    let (x_full, x_rest) = x.split_at(full * k);
    let (z_full, z_rest) = z.split_at_mut(full * n);
    const GROUP_ROWS: usize = SPARSE_GROUP * SPARSE_TILE;
    let groups = x_full.chunks(GROUP_ROWS * k);
    let next = x_full.chunks(GROUP_ROWS * k).skip(1).chain([x_rest]);
    for ((xg, zg), next) in groups.zip(z_full.chunks_mut(GROUP_ROWS * n)).zip(next) {
        sparse_group::<T, MR, NR, FMA, AVX512>(xg, k, c, b, n, zg, &mut lists, next);
    }
    if !x_rest.is_empty() {
        sparse_group::<T, 1, NR, FMA, AVX512>(x_rest, k, c, b, n, z_rest, &mut lists, &[]);
    }
}

/// Up to [`SPARSE_GROUP`] tiles of `MR` rows (`xg`, `zg`; `zg` zeroed), chunk of inputs by chunk:
/// list each tile's inputs where any of its rows differs from `c`, then for each block of output
/// columns add up, tile after tile, the rows of `B` over the tile's list. Meanwhile the `next`
/// group's inputs are fetched into cache, a part per chunk: read chunk by chunk, 32 rows at a
/// time, they defeat the hardware's prefetcher, and waiting on memory cost a quarter of the time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sparse_group<T: Float, const MR: usize, const NR: usize, const FMA: bool, const AVX512: bool>(
    xg: &[T],
    k: usize,
    c: T,
    b: &[T],
    n: usize,
    zg: &mut [T],
    lists: &mut TileLists<T>,
    next: &[T],
) {
    let tiles = xg.len() / (MR * k);
    let chunks = k.div_ceil(SPARSE_CHUNK);
    for (ci, start) in (0..k).step_by(SPARSE_CHUNK).enumerate() {
        let end = (start + SPARSE_CHUNK).min(k);
        prefetch(&next[next.len() * ci / chunks..next.len() * (ci + 1) / chunks]);
        for t in 0..tiles {
            let xt = &xg[t * MR * k..(t + 1) * MR * k];
            let (idx, packed) = (&mut lists.idx[t], &mut lists.packed[t]);
            let mut count = 0;
            for s16 in (start..end).step_by(16) {
                let e16 = (s16 + 16).min(end);
                #[cfg(target_arch = "x86_64")]
                if AVX512 && e16 == s16 + 16 && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
                    // SAFETY: `AVX512` is set only in the copy compiled for AVX-512 and chosen after
                    // checking the CPU; `T` is f32; each row has 16 values from `s16`, and `idx` and
                    // each packed row have room for 16 past `count` (< SPARSE_CHUNK).
                    count = unsafe {
                        list16_f32::<MR>(
                            xt.as_ptr().cast(),
                            k,
                            s16,
                            c.f64() as f32,
                            idx,
                            packed.as_mut_ptr().cast(),
                            count,
                        )
                    };
                    continue;
                }
                let mut ink = 0u32;
                for r in 0..MR {
                    ink |= xt[r * k + s16..r * k + e16]
                        .iter()
                        .enumerate()
                        .fold(0, |m, (i, &v)| m | ((v != c) as u32) << i);
                }
                while ink != 0 {
                    let j = s16 + ink.trailing_zeros() as usize;
                    ink &= ink - 1;
                    for r in 0..MR {
                        packed[r * PACK_STRIDE + count] = xt[r * k + j] - c;
                    }
                    idx[count] = j as u32;
                    count += 1;
                }
            }
            lists.count[t] = count;
        }
        let mut col = 0;
        while col < n {
            let w = if col + NR <= n {
                NR
            } else if col + 4 <= n {
                4
            } else {
                1
            };
            for t in 0..tiles {
                let count = lists.count[t];
                let (idx, packed) = (&lists.idx[t][..count], &lists.packed[t][..]);
                let zt = &mut zg[t * MR * n..(t + 1) * MR * n];
                if w == NR {
                    sparse_block::<T, MR, NR, FMA>(idx, packed, b, n, col, zt)
                } else if w == 4 {
                    sparse_block::<T, MR, 4, FMA>(idx, packed, b, n, col, zt)
                } else {
                    sparse_block::<T, MR, 1, FMA>(idx, packed, b, n, col, zt)
                }
            }
            col += w;
        }
    }
}

/// Asks for `s` to be brought into the cache (a hint: no effect on results).
#[inline(always)]
fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in s.chunks(64 / std::mem::size_of::<T>().max(1)) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault. SSE is part of x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// One group of 16 inputs of a tile's `MR` f32 rows (row `r` at `x + r·k`, from `s16`): the inputs
/// where any row differs from `c` (unordered compare: a NaN counts as ink) are appended to `idx`
/// and each row's `x − c` there to its packed row, by vector compression; returns the new count.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn list16_f32<const MR: usize>(
    x: *const f32,
    k: usize,
    s16: usize,
    c: f32,
    idx: &mut [u32; PACK_STRIDE],
    packed: *mut f32,
    count: usize,
) -> usize {
    use std::arch::x86_64::*;
    let cv = _mm512_set1_ps(c);
    let mut rows = [_mm512_setzero_ps(); MR];
    let mut ink: u16 = 0;
    for (r, v) in rows.iter_mut().enumerate() {
        // SAFETY: the caller guarantees 16 readable values in each row from `s16`.
        *v = unsafe { _mm512_loadu_ps(x.add(r * k + s16)) };
        ink |= _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(*v, cv);
    }
    if ink == 0 {
        return count;
    }
    for (r, &v) in rows.iter().enumerate() {
        let d = _mm512_maskz_compress_ps(ink, _mm512_sub_ps(v, cv));
        // SAFETY: each packed row has room for 16 values past `count`.
        unsafe { _mm512_storeu_ps(packed.add(r * PACK_STRIDE + count), d) };
    }
    let positions = _mm512_add_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(s16 as i32),
    );
    let listed = _mm512_maskz_compress_epi32(ink, positions);
    assert!(count + 16 <= PACK_STRIDE);
    // SAFETY: checked just above: 16 entries fit from `count`.
    unsafe { _mm512_storeu_si512(idx.as_mut_ptr().add(count).cast(), listed) };
    count + ink.count_ones() as usize
}

/// `zt[:, col..col + W] += packed · B[idx, col..col + W]`: `MR × W` accumulators, one row of `B`
/// loaded per listed input and used by every row of the tile.
#[inline(always)]
fn sparse_block<T: Float, const MR: usize, const W: usize, const FMA: bool>(
    idx: &[u32],
    packed: &[T],
    b: &[T],
    n: usize,
    col: usize,
    zt: &mut [T],
) {
    let mut acc = [[T::zero(); W]; MR];
    for (r, a) in acc.iter_mut().enumerate() {
        a.copy_from_slice(&zt[r * n + col..r * n + col + W]);
    }
    let rows: [&[T]; MR] = std::array::from_fn(|r| &packed[r * PACK_STRIDE..r * PACK_STRIDE + idx.len()]);
    for (t, &j) in idx.iter().enumerate() {
        let j = j as usize * n + col;
        let row: &[T; W] = b[j..j + W].try_into().expect("block width");
        for r in 0..MR {
            let v = rows[r][t];
            for i in 0..W {
                acc[r][i] = if FMA { v.mul_add(row[i], acc[r][i]) } else { acc[r][i] + v * row[i] };
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        zt[r * n + col..r * n + col + W].copy_from_slice(a);
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

/// Scratch for [`matmul_sparse_x_wt`]: lists and packed inputs for up to [`WT_GROUP`] tiles of 16
/// rows, and one packed block of `W`. Empty (the product declines) where the product cannot apply.
#[derive(Clone, Debug, Default)]
pub struct SparseScratch {
    k: usize,
    tiles: usize,
    idx: Vec<u32>,
    xt: Vec<f32>,
    wp: Vec<f32>,
}

impl SparseScratch {
    /// Scratch for products with `k` inputs on batches of up to `rows` rows, made now so that
    /// the products allocate nothing; empty for types other than f32, CPUs without AVX-512,
    /// batches too small for a tile, or `k` under 64 (too few inputs to gain).
    pub fn new<T: Float>(k: usize, rows: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && std::arch::is_x86_feature_detected!("avx512f")
            && rows >= 16
            && k >= 64
        {
            let tiles = rows.div_ceil(16).min(WT_GROUP);
            return Self {
                k,
                tiles,
                idx: vec![0; tiles * (k + 16)],
                xt: vec![0.0; tiles * (k + 16) * 16],
                wp: vec![0.0; k * WT_BLOCK],
            };
        }
        let _ = (k, rows);
        Self::default()
    }
}

/// Tiles of 16 rows listed together, so that each packed block of `W` serves them all.
const WT_GROUP: usize = 8;
/// Outputs per packed block of `W` (16 accumulator registers of 16 rows each): a block is packed
/// by 16 × 16 transposes in registers (packing element by element cost as much as the products).
const WT_BLOCK: usize = 16;
/// Above this fraction of nonzero inputs (judged on a few rows) the dense product is used: with
/// 19% per MNIST digit, 16 digits together ink 53% of the pixels.
const WT_MAX_DENSITY: f64 = 0.3;

/// `Z ← X·Wᵀ` (`X`: rows × k, mostly zeros; `W`: n × k row-major, as a layer stores it; `Z`:
/// rows × n), skipping the products with zero inputs, on the calling thread. The rows go 16 at a
/// time, one per vector lane: a tile lists the inputs nonzero in any of its rows, and each listed
/// input `j` adds `W[o, j]·X[rows, j]` to 16 outputs' accumulators, from a block of `W` packed
/// (inputs × 16) once for [`WT_GROUP`] tiles. On MNIST that is about half of the dense product's
/// arithmetic. Returns `false`, having done nothing, when it does not apply: not f32, no
/// AVX-512, or inputs not sparse enough; the caller then takes the dense product.
#[allow(clippy::too_many_arguments)]
pub fn matmul_sparse_x_wt<T: Float>(
    x: &[T],
    rows: usize,
    k: usize,
    w: &[T],
    n: usize,
    z: &mut [T],
    scratch: &mut SparseScratch,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // The scratch exists only for f32 on AVX-512, sized for `k` inputs.
        if scratch.k != k || scratch.tiles == 0 || rows == 0 || n == 0 {
            return false;
        }
        assert!(x.len() >= rows * k && w.len() >= n * k && z.len() >= rows * n, "matmul_sparse_x_wt: shapes");
        let step = rows.div_ceil(8);
        let ink: usize = (0..rows).step_by(step).map(|r| count_not_equal(&x[r * k..(r + 1) * k], T::zero())).sum();
        if ink as f64 > WT_MAX_DENSITY * (rows.div_ceil(step) * k) as f64 {
            return false;
        }
        // SAFETY: T is f32 (a non-empty scratch is made only for f32), so the slices may be read
        // as f32.
        let (x, w, z) = unsafe {
            (
                std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), rows * k),
                std::slice::from_raw_parts(w.as_ptr().cast::<f32>(), n * k),
                std::slice::from_raw_parts_mut(z.as_mut_ptr().cast::<f32>(), rows * n),
            )
        };
        // SAFETY: the CPU has AVX-512F (a non-empty scratch is made only then).
        unsafe { sparse_x_wt_avx512(x, rows, k, w, n, z, scratch) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, rows, k, w, n, z, scratch);
        false
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sparse_x_wt_avx512(x: &[f32], rows: usize, k: usize, w: &[f32], n: usize, z: &mut [f32], s: &mut SparseScratch) {
    use std::arch::x86_64::*;
    let stride = k + 16;
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let x_offsets = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(k as i32));
    let z_offsets = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(n as i32));
    let mut counts = [0usize; WT_GROUP];
    for g0 in (0..rows).step_by(16 * s.tiles) {
        let tiles = (rows - g0).div_ceil(16).min(s.tiles);
        // List each tile's inputs nonzero in any of its rows, with the tile's 16 values there.
        for (t, count) in counts.iter_mut().enumerate().take(tiles) {
            let r0 = g0 + 16 * t;
            let valid = (rows - r0).min(16);
            let lane_mask: __mmask16 = if valid == 16 { 0xffff } else { (1u16 << valid) - 1 };
            let (idx, xt) =
                (&mut s.idx[t * stride..(t + 1) * stride], &mut s.xt[t * stride * 16..(t + 1) * stride * 16]);
            *count = 0;
            for s16 in (0..k).step_by(16) {
                let width = (k - s16).min(16);
                let load_mask: __mmask16 = if width == 16 { 0xffff } else { (1u16 << width) - 1 };
                let mut ink: __mmask16 = 0;
                for r in r0..r0 + valid {
                    // SAFETY: `load_mask` covers only the row's entries from `s16` (< k).
                    let v = unsafe { _mm512_maskz_loadu_ps(load_mask, x.as_ptr().add(r * k + s16)) };
                    ink |= _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, _mm512_setzero_ps());
                }
                while ink != 0 {
                    let j = s16 + ink.trailing_zeros() as usize;
                    ink &= ink - 1;
                    // SAFETY: lanes in `lane_mask` read x[(r0 + i)·k + j], i < valid, inside `x`;
                    // the store writes xt's 16 entries for this listed input (count < k + 16).
                    unsafe {
                        let col = _mm512_mask_i32gather_ps::<4>(
                            _mm512_setzero_ps(),
                            lane_mask,
                            x_offsets,
                            x.as_ptr().add(r0 * k + j).cast(),
                        );
                        _mm512_storeu_ps(xt.as_mut_ptr().add(*count * 16), col);
                    }
                    idx[*count] = j as u32;
                    *count += 1;
                }
            }
        }
        // Each block of 16 outputs: pack W's rows (inputs × 16), then run every tile over it.
        let mut o0 = 0;
        while o0 < n {
            let width = (n - o0).min(WT_BLOCK);
            let wp = &mut s.wp[..k * WT_BLOCK];
            let mut j = 0;
            if width == 16 {
                while j + 16 <= k {
                    // SAFETY: rows o0..o0 + 16 < n of `w` have 16 entries from j < k; `wp` has
                    // rows j..j + 16 < k of 16.
                    unsafe {
                        let mut r = [_mm512_setzero_ps(); 16];
                        for (o, v) in r.iter_mut().enumerate() {
                            *v = _mm512_loadu_ps(w.as_ptr().add((o0 + o) * k + j));
                        }
                        transpose16(&mut r);
                        for (c, v) in r.iter().enumerate() {
                            _mm512_storeu_ps(wp.as_mut_ptr().add((j + c) * WT_BLOCK), *v);
                        }
                    }
                    j += 16;
                }
            }
            for o in 0..width {
                let row = &w[(o0 + o) * k..(o0 + o + 1) * k];
                for (jj, &v) in row.iter().enumerate().skip(j) {
                    wp[jj * WT_BLOCK + o] = v;
                }
            }
            for t in 0..tiles {
                let r0 = g0 + 16 * t;
                let valid = (rows - r0).min(16);
                let lane_mask: __mmask16 = if valid == 16 { 0xffff } else { (1u16 << valid) - 1 };
                let (idx, xt) = (&s.idx[t * stride..t * stride + counts[t]], &s.xt[t * stride * 16..]);
                let mut acc = [_mm512_setzero_ps(); WT_BLOCK];
                for (c, &j) in idx.iter().enumerate() {
                    // SAFETY: entry c < count of the tile's packed values; row j < k of `wp`.
                    unsafe {
                        let xv = _mm512_loadu_ps(xt.as_ptr().add(c * 16));
                        let wr = wp.as_ptr().add(j as usize * WT_BLOCK);
                        for (o, a) in acc.iter_mut().enumerate() {
                            *a = _mm512_fmadd_ps(_mm512_set1_ps(*wr.add(o)), xv, *a);
                        }
                    }
                }
                for (o, a) in acc.iter().enumerate().take(width) {
                    // SAFETY: lanes in `lane_mask` write z[(r0 + i)·n + o0 + o], i < valid, inside `z`.
                    unsafe {
                        _mm512_mask_i32scatter_ps::<4>(
                            z.as_mut_ptr().add(r0 * n + o0 + o).cast(),
                            lane_mask,
                            z_offsets,
                            *a,
                        )
                    };
                }
            }
            o0 += width;
        }
    }
}

/// Transposes a 16 × 16 block of f32 held as 16 rows: 32-bit, then 64-bit interleaves within
/// 128-bit lanes, then a 4 × 4 transpose of the lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transpose16(r: &mut [std::arch::x86_64::__m512; 16]) {
    use std::arch::x86_64::*;
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // s[4i + q], lane L: column 4L + q of rows 4i..4i + 4.
    let mut s = [_mm512_setzero_ps(); 16];
    for i in 0..4 {
        let pd = |v: __m512| _mm512_castps_pd(v);
        s[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[4 * i]), pd(t[4 * i + 2])));
        s[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[4 * i]), pd(t[4 * i + 2])));
        s[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[4 * i + 1]), pd(t[4 * i + 3])));
        s[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[4 * i + 1]), pd(t[4 * i + 3])));
    }
    for q in 0..4 {
        let (a, b, c, d) = (s[q], s[4 + q], s[8 + q], s[12 + q]);
        let u0 = _mm512_shuffle_f32x4::<0x44>(a, b);
        let u1 = _mm512_shuffle_f32x4::<0xEE>(a, b);
        let u2 = _mm512_shuffle_f32x4::<0x44>(c, d);
        let u3 = _mm512_shuffle_f32x4::<0xEE>(c, d);
        r[q] = _mm512_shuffle_f32x4::<0x88>(u0, u2);
        r[4 + q] = _mm512_shuffle_f32x4::<0xDD>(u0, u2);
        r[8 + q] = _mm512_shuffle_f32x4::<0x88>(u1, u3);
        r[12 + q] = _mm512_shuffle_f32x4::<0xDD>(u1, u3);
    }
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
    fn sparse_rows_product_matches_the_dense_one_in_f32() {
        // f32 takes the vector listing on AVX-512; shapes cover whole groups of tiles, a group cut
        // short, leftover single rows, input chunks ending off a multiple of 16, and column blocks
        // of 64, 4 and 1.
        for (rows, k, n) in [(1, 16, 64), (5, 300, 133), (37, 784, 10), (70, 784, 128), (129, 47, 69)] {
            for c in [0.0f32, -0.42] {
                let x: Vec<f32> = (0..rows * k)
                    .map(|i| if (i * 7 + i / k) % 5 == 0 { (i % 13) as f32 / 13.0 + 0.1 } else { c })
                    .collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
                let shifted: Vec<f64> = x.iter().map(|&v| (v - c) as f64).collect();
                let want = naive(rows, n, k, &shifted, &b.iter().map(|&v| v as f64).collect::<Vec<_>>());
                for threads in [1, 2] {
                    let mut z = vec![9.0f32; rows * n];
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    pool.install(|| matmul_sparse_rows(&x, rows, k, c, &b, n, &mut z, threads));
                    for (i, (&p, &q)) in z.iter().zip(&want).enumerate() {
                        assert!(
                            (p as f64 - q).abs() < 1e-4,
                            "{rows}×{k}×{n}, c {c}, {threads} thr, entry {i}: {p} vs {q}"
                        );
                    }
                }
                // Every instruction set this CPU has, not only the widest, in f32 and f64.
                for isa in [Isa::Avx512, Isa::Avx2, Isa::Baseline] {
                    let has = matches!(
                        (Isa::detected(), isa),
                        (_, Isa::Baseline) | (Isa::Avx512, _) | (Isa::Avx2, Isa::Avx2)
                    );
                    if !has {
                        continue;
                    }
                    let mut z = vec![9.0f32; rows * n];
                    sparse_tiles_on(isa, &x, k, c, &b, n, &mut z);
                    let (x64, b64): (Vec<f64>, Vec<f64>) =
                        (x.iter().map(|&v| v as f64).collect(), b.iter().map(|&v| v as f64).collect());
                    let mut z64 = vec![9.0f64; rows * n];
                    sparse_tiles_on(isa, &x64, k, c as f64, &b64, n, &mut z64);
                    for (i, ((&p, &p64), &q)) in z.iter().zip(&z64).zip(&want).enumerate() {
                        assert!((p as f64 - q).abs() < 1e-4, "{isa:?} {rows}×{k}×{n}, c {c}, entry {i}: {p} vs {q}");
                        assert!((p64 - q).abs() < 1e-5, "{isa:?} f64 {rows}×{k}×{n}, c {c}, entry {i}: {p64} vs {q}");
                    }
                }
            }
        }
    }

    #[test]
    fn sparse_x_times_w_transposed_matches_the_dense_product() {
        // Rows: whole and partial tiles and groups of tiles; inputs: a multiple of 16 and not;
        // outputs: whole blocks of 16 and a partial one.
        for (rows, k, n) in [(16, 784, 32), (37, 100, 21), (130, 784, 10), (200, 65, 800)] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| if (i * 7 + i / k) % 6 == 0 { (i % 13) as f32 / 13.0 + 0.1 } else { 0.0 })
                .collect();
            let w: Vec<f32> = (0..n * k).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
            let mut want = vec![0.0f32; rows * n];
            matmul(rows, n, k, Operand::plain(&x), Operand::t(&w), &mut want, false, 1);
            let mut z = vec![f32::NAN; rows * n];
            let mut scratch = SparseScratch::new::<f32>(k, rows);
            if !matmul_sparse_x_wt(&x, rows, k, &w, n, &mut z, &mut scratch) {
                assert!(!std::arch::is_x86_feature_detected!("avx512f"), "the sparse path should apply here");
                continue;
            }
            for (i, (&p, &q)) in z.iter().zip(&want).enumerate() {
                assert!((p - q).abs() < 1e-4, "{rows}×{k}×{n}, entry {i}: {p} vs {q}");
            }
            // A NaN input reaches its own row's outputs only; dense inputs are declined.
            let mut x2 = x.clone();
            x2[3 * k + 1] = f32::NAN;
            assert!(matmul_sparse_x_wt(&x2, rows, k, &w, n, &mut z, &mut scratch));
            for (r, zr) in z.chunks(n).enumerate() {
                assert!(zr.iter().all(|v| v.is_nan() == (r == 3)), "row {r}");
            }
            let dense = vec![0.5f32; rows * k];
            assert!(!matmul_sparse_x_wt(&dense, rows, k, &w, n, &mut z, &mut scratch));
        }
        let x64 = vec![0.0f64; 16 * 80];
        let mut none = SparseScratch::new::<f64>(80, 16);
        assert!(!matmul_sparse_x_wt(&x64, 16, 80, &[0.0; 80], 1, &mut [0.0; 16], &mut none));
    }

    #[test]
    fn a_nan_input_reaches_its_row_s_outputs_only() {
        let (rows, k, n) = (9, 64, 20);
        let mut x = vec![0.0f32; rows * k];
        x[5 * k + 33] = f32::NAN;
        x[2 * k + 3] = 0.5;
        let b = vec![0.25f32; k * n];
        let mut z = vec![0.0f32; rows * n];
        matmul_sparse_rows(&x, rows, k, 0.0, &b, n, &mut z, 1);
        for (r, zr) in z.chunks(n).enumerate() {
            let want = if r == 2 { 0.125 } else { 0.0 };
            assert!(zr.iter().all(|v| if r == 5 { v.is_nan() } else { *v == want }), "row {r}: {zr:?}");
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
