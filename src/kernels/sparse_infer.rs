//! Inference's first-layer product that skips blank inputs, for small batches (and every batch on
//! CPUs without AVX-512F; larger ones take `sparse_train`'s listed product, with the same bits):
//! `Z ← (X − c)·B` in tiles of [`SPARSE_TILE`] rows, compiled for each instruction set and chosen
//! at run time.

use super::cpu::Isa;
use super::elementwise::prefetch;
use super::float::Float;

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
    if threads > 1 && rows == 1 && n >= SPLIT_COLUMNS_MIN {
        // One image, a wide layer: the columns are split between two threads instead, so that
        // each core reads part of every listed row of `B`. The calling thread takes the larger
        // part (5/8, in whole blocks of 64: 512 of 800), since the other starts only once it has
        // taken its part over (measured on an Intel Xeon, 784-800: 448 of 800 on the caller
        // 14.9 µs, 512 13.6 µs, half 16+ µs). Each column adds the same terms in the same order
        // either way: the same bits.
        let h = (n * 5 / 8).next_multiple_of(64).min(n);
        let (z0, z1) = z.split_at_mut(h);
        rayon::join(
            || sparse_tiles_dispatch(x, k, c, b, n, h, z0),
            || sparse_tiles_dispatch(x, k, c, &b[h..], n, n - h, z1),
        );
        return;
    }
    sparse_tiles_dispatch(x, k, c, b, n, n, z)
}

/// From this many outputs, [`matmul_sparse_rows`] with two or more threads splits a single row's
/// columns between two of them: one image's first layer is then bound by reading the listed rows
/// of `B` (`W⁽¹⁾ᵀ`, 2.5 MB for 784-800, beyond a core's L2), and two cores read them twice as fast.
const SPLIT_COLUMNS_MIN: usize = 512;

/// Rows per tile of [`matmul_sparse_rows`]: with more, the tile's ink covers more of the image
/// (MNIST: 1 row 19%, 2: 29%, 4: 38%, 8: 45%, 16: 51% of the pixels); with fewer, each row of `B`
/// loaded from cache feeds fewer multiply-adds (4 rows × 64 columns: 16 accumulator registers,
/// 4 loads and 4 broadcasts per 16 fused multiply-adds).
pub const SPARSE_TILE: usize = 4;

/// [`sparse_tiles`] compiled for the widest vector instructions present, with an output block as
/// wide as the registers allow (`NR` columns × [`SPARSE_TILE`] rows of accumulators). `B`'s rows
/// are `ldb` apart, of which the product reads the first `n` (`Z`'s width).
#[allow(clippy::too_many_arguments)]
fn sparse_tiles_dispatch<T: Float>(x: &[T], k: usize, c: T, b: &[T], ldb: usize, n: usize, z: &mut [T]) {
    // SAFETY: `Isa::detected` is an instruction set this CPU has.
    unsafe { sparse_tiles_unchecked(Isa::detected(), x, k, c, b, ldb, n, z) }
}

/// `Z ← (X − c)·B` for whole rows of `X` (`x.len() / k` of them), on the calling thread, compiled
/// for instruction set `isa`, not necessarily the widest this CPU has: the tests run each one
/// (`tests/kernels.rs`). Panics if the CPU does not have `isa`.
#[doc(hidden)]
pub fn sparse_tiles_on<T: Float>(isa: Isa, x: &[T], k: usize, c: T, b: &[T], n: usize, z: &mut [T]) {
    assert!(isa.is_available(), "sparse_tiles_on: this CPU has no {isa:?}");
    // SAFETY: checked just above.
    unsafe { sparse_tiles_unchecked(isa, x, k, c, b, n, n, z) }
}

/// [`sparse_tiles`] for instruction set `isa`, `B`'s rows `ldb` apart.
///
/// # Safety
///
/// The CPU must have `isa`'s instructions ([`Isa::is_available`]).
#[allow(clippy::too_many_arguments)]
unsafe fn sparse_tiles_unchecked<T: Float>(
    isa: Isa,
    x: &[T],
    k: usize,
    c: T,
    b: &[T],
    ldb: usize,
    n: usize,
    z: &mut [T],
) {
    let f32 = std::mem::size_of::<T>() == 4;
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        fn avx512<T: Float>(x: &[T], k: usize, c: T, b: &[T], ldb: usize, n: usize, z: &mut [T], f32: bool) {
            // 32 zmm registers: 16 accumulators of 16 f32 (or 8 f64), 4 for the row of B.
            if f32 {
                sparse_tiles::<T, 64, true, true>(x, k, c, b, ldb, n, z)
            } else {
                sparse_tiles::<T, 32, true, true>(x, k, c, b, ldb, n, z)
            }
        }
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        fn avx2<T: Float>(x: &[T], k: usize, c: T, b: &[T], ldb: usize, n: usize, z: &mut [T], f32: bool) {
            // 16 ymm registers: 8 accumulators, 2 for the row of B.
            if f32 {
                sparse_tiles::<T, 16, true, false>(x, k, c, b, ldb, n, z)
            } else {
                sparse_tiles::<T, 8, true, false>(x, k, c, b, ldb, n, z)
            }
        }
        match isa {
            // SAFETY: the caller guarantees the CPU has `isa`'s instructions.
            Isa::Avx512 => return unsafe { avx512(x, k, c, b, ldb, n, z, f32) },
            // SAFETY: as above, for AVX2 and FMA.
            Isa::Avx2 => return unsafe { avx2(x, k, c, b, ldb, n, z, f32) },
            Isa::Baseline => {}
        }
    }
    // Without FMA instructions `mul_add` would be a library call per element: multiply, then add.
    if f32 {
        sparse_tiles::<T, 8, false, false>(x, k, c, b, ldb, n, z)
    } else {
        sparse_tiles::<T, 4, false, false>(x, k, c, b, ldb, n, z)
    }
}

/// Inputs per list of [`sparse_tiles`] (a tile's list and packed values live on the stack).
const SPARSE_CHUNK: usize = 128;
/// Tiles that share each block of `B`: one group's rows of `B` for one chunk of inputs and one
/// block of output columns (128 × 64 f32: 32 KB) stay in L1 while every tile of the group uses
/// them, instead of coming from L2, or L3 when `B` is large (784-800: 2.5 MB), once per tile.
/// Chunk and group sizes were chosen by measurement (docs/design.md, "Kernel timings").
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
    ldb: usize,
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
        sparse_group::<T, MR, NR, FMA, AVX512>(xg, k, c, b, ldb, n, zg, &mut lists, next);
    }
    if !x_rest.is_empty() {
        sparse_group::<T, 1, NR, FMA, AVX512>(x_rest, k, c, b, ldb, n, z_rest, &mut lists, &[]);
    }
}

/// Up to [`SPARSE_GROUP`] tiles of `MR` rows (`xg`, `zg`; `zg` zeroed), chunk of inputs by chunk:
/// list each tile's inputs where any of its rows differs from `c`, then for each block of output
/// columns add up, tile after tile, the rows of `B` over the tile's list. Meanwhile the `next`
/// group's inputs are fetched into cache, a part per chunk: read chunk by chunk, 32 rows at a
/// time, they defeat the hardware's prefetcher (what waiting on memory cost: docs/design.md,
/// "Kernel timings").
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sparse_group<T: Float, const MR: usize, const NR: usize, const FMA: bool, const AVX512: bool>(
    xg: &[T],
    k: usize,
    c: T,
    b: &[T],
    ldb: usize,
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
                    sparse_block::<T, MR, NR, FMA>(idx, packed, b, ldb, n, col, zt)
                } else if w == 4 {
                    sparse_block::<T, MR, 4, FMA>(idx, packed, b, ldb, n, col, zt)
                } else {
                    sparse_block::<T, MR, 1, FMA>(idx, packed, b, ldb, n, col, zt)
                }
            }
            col += w;
        }
    }
}

/// One group of 16 inputs of a tile's `MR` f32 rows (row `r` at `x + r·k`, from `s16`): the inputs
/// where any row differs from `c` (unordered compare: a NaN counts as ink) are appended to `idx`
/// and each row's `x − c` there to its packed row, by vector compression; returns the new count.
///
/// # Safety
///
/// The CPU must have AVX-512F; each of the `MR` rows must have 16 readable values from `s16`
/// (`x + r·k + s16 .. + 16`), each packed row (`packed + r·PACK_STRIDE`) room for 16 written from
/// `count`, and `count + 16 ≤ PACK_STRIDE` (checked: it panics otherwise).
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
    ldb: usize,
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
        let j = j as usize * ldb + col;
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
                // Each instruction set this CPU has, not only the widest: `tests/kernels.rs`.
            }
        }
    }

    #[test]
    fn one_row_split_by_columns_gives_the_one_thread_bits() {
        // Widths at, between and past the split's blocks of 64, and under the threshold.
        for n in [SPLIT_COLUMNS_MIN, 800, 833, 100] {
            let k = 300;
            let x: Vec<f32> = (0..k).map(|i| if i % 3 == 0 { (i % 11) as f32 / 7.0 - 0.3 } else { 0.0 }).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 37) % 29) as f32 / 13.0 - 1.1).collect();
            let run = |threads: usize| {
                let mut z = vec![f32::NAN; n];
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| matmul_sparse_rows(&x, 1, k, 0.0, &b, n, &mut z, threads));
                z
            };
            let (one, two) = (run(1), run(2));
            assert!(one.iter().all(|v| v.is_finite()), "{n}: every column written");
            assert!(one.iter().zip(&two).all(|(p, q)| p.to_bits() == q.to_bits()), "{n}: the same bits");
        }
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
}
