//! Training's first-layer products that skip zero inputs, and the scratch they run in: forward,
//! `Z ← X·Wᵀ` with `W` as a layer stores it, 16 batch rows per AVX-512 vector; backward,
//! `∂L/∂W ← δᵀX`, each input's nonzero entries against 16 outputs per vector.

use std::marker::PhantomData;

#[cfg(target_arch = "x86_64")]
use super::cpu::has_avx512f;
use super::float::Float;
use super::reductions::count_not_equal;

/// Scratch for [`matmul_sparse_x_wt`] and [`matmul_sparse_dt_x`] on `T` data: lists and packed
/// inputs for up to `WT_GROUP` (8) tiles of 16 rows, one packed block of `W`, and for the backward
/// product row lists and a 16 × 64 tile of the gradient. Empty (the products decline) where they
/// cannot apply.
///
/// Scratch made for one float type serves that type only:
///
/// ```
/// use neuralnet::kernels::{SparseScratch, matmul_sparse_x_wt};
/// let (rows, k, n) = (16, 64, 4);
/// let mut scratch = SparseScratch::<f32>::new(k, rows);
/// let (x, w, mut z) = (vec![0.0f32; rows * k], vec![0.5f32; n * k], vec![0.0f32; rows * n]);
/// if !matmul_sparse_x_wt(&x, rows, k, &w, n, &mut z, &mut scratch) {
///     // Declined (no AVX-512 here): the caller takes the dense product.
/// }
/// ```
///
/// and f64 data with scratch made for f32 does not compile:
///
/// ```compile_fail,E0308
/// use neuralnet::kernels::{SparseScratch, matmul_sparse_x_wt};
/// let (rows, k, n) = (16, 64, 4);
/// let mut scratch = SparseScratch::<f32>::new(k, rows);
/// let (x, w, mut z) = (vec![0.0f64; rows * k], vec![0.5f64; n * k], vec![0.0f64; rows * n]);
/// matmul_sparse_x_wt(&x, rows, k, &w, n, &mut z, &mut scratch);
/// ```
#[derive(Clone, Debug)]
pub struct SparseScratch<T> {
    buffers: Buffers,
    _float: PhantomData<T>,
}

/// The buffers of a [`SparseScratch`], all f32 (the product runs in f32 only).
#[derive(Clone, Debug, Default)]
struct Buffers {
    k: usize,
    /// The most rows a product here takes.
    rows: usize,
    tiles: usize,
    idx: Vec<u32>,
    xt: Vec<f32>,
    wp: Vec<f32>,
    /// Backward: per group of 4 inputs, the rows where any is nonzero and the 4 values there
    /// (`rows + 16` slots each; sized on first use), and how many.
    group_rows: Vec<u32>,
    group_vals: Vec<f32>,
    group_counts: Vec<usize>,
    /// Backward: how many rows the lists hold (0: none listed).
    listed: usize,
}

impl<T> Default for SparseScratch<T> {
    /// Empty scratch: the product always declines.
    fn default() -> Self {
        Self { buffers: Buffers::default(), _float: PhantomData }
    }
}

impl<T: Float> SparseScratch<T> {
    /// Scratch for products with `k` inputs on batches of up to `rows` rows, made now so that
    /// the forward product allocates nothing (the backward's lists are sized on first use);
    /// empty for types other than f32, CPUs without AVX-512, batches too small for a tile, or
    /// `k` under 64 (too few inputs to gain).
    pub fn new(k: usize, rows: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && has_avx512f() && rows >= 16 && k >= 64 {
            let tiles = rows.div_ceil(16).min(WT_GROUP);
            return Self {
                buffers: Buffers {
                    k,
                    rows,
                    tiles,
                    idx: vec![0; tiles * (k + 16)],
                    xt: vec![0.0; tiles * (k + 16) * 16],
                    wp: vec![0.0; k * WT_BLOCK],
                    group_rows: Vec::new(),
                    group_vals: Vec::new(),
                    group_counts: Vec::new(),
                    listed: 0,
                },
                _float: PhantomData,
            };
        }
        let _ = (k, rows);
        Self::default()
    }
}

/// Tiles of 16 rows listed together, so that each packed block of `W` serves them all.
const WT_GROUP: usize = 8;
/// Outputs per packed block of `W` (16 accumulator registers of 16 rows each): a block is packed
/// by 16 × 16 transposes in registers (packing element by element was slow: docs/design.md,
/// "Kernel timings").
const WT_BLOCK: usize = 16;
/// Above this fraction of nonzero inputs (judged on a few rows) the dense product is used: with
/// 19% per MNIST digit, 16 digits together ink 53% of the pixels.
const WT_MAX_DENSITY: f64 = 0.3;

/// `Z ← X·Wᵀ` (`X`: rows × k, mostly zeros; `W`: n × k row-major, as a layer stores it; `Z`:
/// rows × n), skipping the products with zero inputs, on the calling thread. The rows go 16 at a
/// time, one per vector lane: a tile lists the inputs nonzero in any of its rows, and each listed
/// input `j` adds `W[o, j]·X[rows, j]` to 16 outputs' accumulators, from a block of `W` packed
/// (inputs × 16) once for `WT_GROUP` (8) tiles. On MNIST that is about half of the dense product's
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
    scratch: &mut SparseScratch<T>,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // The scratch exists only for f32 on AVX-512, sized for `k` inputs.
        let scratch = &mut scratch.buffers;
        if scratch.k != k || scratch.tiles == 0 || rows == 0 || n == 0 {
            return false;
        }
        assert!(x.len() >= rows * k && w.len() >= n * k && z.len() >= rows * n, "matmul_sparse_x_wt: shapes");
        if !sparse_enough(x, rows, k) {
            return false;
        }
        // SAFETY: T is f32 (a non-empty `SparseScratch<T>` is made only for T = f32), so the
        // slices may be read as f32.
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

/// The body of [`matmul_sparse_x_wt`] once it applies (safe to call only on a CPU with AVX-512F,
/// which `#[target_feature]` makes the caller's `unsafe`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sparse_x_wt_avx512(x: &[f32], rows: usize, k: usize, w: &[f32], n: usize, z: &mut [f32], s: &mut Buffers) {
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

/// Whether `x` (rows × k) is sparse enough for the products here, judged on up to 8 of its rows.
fn sparse_enough<T: Float>(x: &[T], rows: usize, k: usize) -> bool {
    let step = rows.div_ceil(8);
    let ink: usize = (0..rows).step_by(step).map(|r| count_not_equal(&x[r * k..(r + 1) * k], T::zero())).sum();
    ink as f64 <= WT_MAX_DENSITY * (rows.div_ceil(step) * k) as f64
}

/// `∂L/∂W ← δᵀX` (`δ`: rows × n; `X`: rows × k, mostly zeros, `k` a multiple of 4; `G`: n × k
/// row-major, as a layer stores `W`), skipping zero inputs, on the calling thread:
/// [`SparseScratch::list_inputs`], then [`matmul_sparse_dt_x_rows`] for all `n` outputs. Returns
/// `false`, having done nothing, where it does not apply (not f32, no AVX-512, `k` not a multiple
/// of 4, inputs not sparse enough); the caller then takes the dense product.
#[allow(clippy::too_many_arguments)]
pub fn matmul_sparse_dt_x<T: Float>(
    delta: &[T],
    x: &[T],
    rows: usize,
    k: usize,
    n: usize,
    g: &mut [T],
    scratch: &mut SparseScratch<T>,
) -> bool {
    if n == 0 || !scratch.list_inputs(x, rows, k) {
        return false;
    }
    matmul_sparse_dt_x_rows(delta, n, 0, n, g, &[&*scratch]);
    true
}

impl<T: Float> SparseScratch<T> {
    /// Lists `X`'s nonzero entries (rows × k) for [`matmul_sparse_dt_x_rows`]: per group of 4
    /// inputs, the rows where any of them is nonzero, in increasing order, with the 4 values
    /// there. Returns `false`, listing nothing, where the sparse products do not apply (as
    /// [`matmul_sparse_dt_x`], or more rows than the scratch was made for). Its first call sizes
    /// the lists for the scratch's rows (`k/4 × (rows + 16)` row numbers, 4 values each: 4.4 KB
    /// per row for MNIST), so that no later call allocates, and workspaces that never train make
    /// none.
    pub fn list_inputs(&mut self, x: &[T], rows: usize, k: usize) -> bool {
        let s = &mut self.buffers;
        s.listed = 0;
        #[cfg(target_arch = "x86_64")]
        {
            if s.k != k || s.tiles == 0 || rows == 0 || rows > s.rows || !k.is_multiple_of(DT_GROUP) {
                return false;
            }
            assert!(x.len() >= rows * k, "SparseScratch::list_inputs: X holds {} < {rows}×{k}", x.len());
            if s.group_rows.is_empty() {
                // Sized once, for the most rows, whatever this batch's ink.
                let slots = s.rows + 16;
                s.group_rows = vec![0; k / DT_GROUP * slots];
                s.group_vals = vec![0.0; k * slots];
                s.group_counts = vec![0; k / DT_GROUP];
            }
            if !sparse_enough(x, rows, k) {
                return false;
            }
            // SAFETY: T is f32 (a non-empty `SparseScratch<T>` is made only for T = f32).
            let x = unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), rows * k) };
            // SAFETY: the CPU has AVX-512F (a non-empty scratch is made only then).
            unsafe { list_inputs_avx512(x, rows, k, s) };
            s.listed = rows;
            true
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (x, rows, k);
            false
        }
    }
}

/// Rows `first..first + len` of `∂L/∂W = δᵀX` (outputs `first..first + len` of `δ`, rows × n)
/// into `g` (len × k), from the inputs that [`SparseScratch::list_inputs`] listed in `listed`:
/// one listing, or several of consecutive row ranges in order (the halves of a batch, each listed
/// on its own thread), `δ` holding all their rows. `G[o, j] = Σᵣ δ[r, o]·X[r, j]` over the rows
/// where `X[r, j] ≠ 0`, in increasing `r`, one fused multiply-add at a time from zero, as the
/// dense product's kernel sums: the products skipped are those of zero inputs, which add nothing,
/// so the bits are the dense product's (while `δ` is finite). A register tile of 4 inputs × 64
/// outputs runs down a group's lists, `δ`'s 64 columns staying in the L1 cache while every group
/// passes over them; each 16 × 16 block of the result is transposed into `G`'s rows. On MNIST a
/// row inks 28% of the groups, so the arithmetic is about a quarter of the dense product's.
/// Several threads may take different rows from the same listings.
///
/// Panics if a listing holds nothing (a failed or no `list_inputs`), if the listings are of
/// different widths, or on shapes that do not fit.
pub fn matmul_sparse_dt_x_rows<T: Float>(
    delta: &[T],
    n: usize,
    first: usize,
    len: usize,
    g: &mut [T],
    listed: &[&SparseScratch<T>],
) {
    let k = listed.first().map_or(0, |s| s.buffers.k);
    assert!(
        listed.iter().all(|s| s.buffers.listed > 0 && s.buffers.k == k),
        "matmul_sparse_dt_x_rows: a listing is empty or of another width"
    );
    let rows: usize = listed.iter().map(|s| s.buffers.listed).sum();
    assert!(
        !listed.is_empty() && first + len <= n && delta.len() >= rows * n && g.len() >= len * k,
        "matmul_sparse_dt_x_rows: shapes"
    );
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: T is f32 (only then does `list_inputs` list anything).
        let (delta, g) = unsafe {
            (
                std::slice::from_raw_parts(delta.as_ptr().cast::<f32>(), rows * n),
                std::slice::from_raw_parts_mut(g.as_mut_ptr().cast::<f32>(), len * k),
            )
        };
        // SAFETY: the CPU has AVX-512F (only then does `list_inputs` list anything).
        unsafe { sparse_dt_x_rows_avx512(delta, n, first, len, g, listed) };
    }
}

/// Inputs per row list of [`matmul_sparse_dt_x`] (one register tile's width in inputs).
const DT_GROUP: usize = 4;
/// Outputs per register tile of [`matmul_sparse_dt_x`]: 4 vectors of 16.
const DT_BLOCK: usize = 64;

/// A mask of the first `w` (at most 16) lanes.
#[cfg(target_arch = "x86_64")]
fn mask_of(w: usize) -> u16 {
    if w >= 16 { 0xffff } else { (1u16 << w) - 1 }
}

/// The body of [`SparseScratch::list_inputs`] once it applies (AVX-512F only; `k % 4 == 0`;
/// lists sized). Row by row, in order, 64 inputs at a time: four comparisons give a bit per
/// input, two shifts mark the groups with any bit set, and only those get the row appended, so
/// the work follows the ink.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn list_inputs_avx512(x: &[f32], rows: usize, k: usize, s: &mut Buffers) {
    use std::arch::x86_64::*;
    /// Bit 0 of each group of 4 bits.
    const FIRST_OF_GROUP: u64 = 0x1111_1111_1111_1111;
    let slots = rows + 16;
    let counts = &mut s.group_counts[..k / DT_GROUP];
    counts.fill(0);
    for r in 0..rows {
        let row = &x[r * k..(r + 1) * k];
        for j0 in (0..k).step_by(64) {
            let mut nonzero = 0u64;
            for (t, j) in (j0..k.min(j0 + 64)).step_by(16).enumerate() {
                // SAFETY: the mask covers only the row's entries from j (< k).
                let v = unsafe { _mm512_maskz_loadu_ps(mask_of(k - j), row.as_ptr().add(j)) };
                nonzero |= u64::from(_mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, _mm512_setzero_ps())) << (16 * t);
            }
            let any = nonzero | (nonzero >> 1);
            let mut inked = (any | (any >> 2)) & FIRST_OF_GROUP;
            while inked != 0 {
                let group = (j0 + inked.trailing_zeros() as usize) / DT_GROUP;
                inked &= inked - 1;
                let at = group * slots + counts[group];
                s.group_rows[at] = r as u32;
                s.group_vals[DT_GROUP * at..DT_GROUP * (at + 1)]
                    .copy_from_slice(&row[DT_GROUP * group..DT_GROUP * (group + 1)]);
                counts[group] += 1;
            }
        }
    }
}

/// The body of [`matmul_sparse_dt_x_rows`] (AVX-512F only; inputs listed).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sparse_dt_x_rows_avx512<T>(
    delta: &[f32],
    n: usize,
    first: usize,
    len: usize,
    g: &mut [f32],
    listed: &[&SparseScratch<T>],
) {
    use std::arch::x86_64::*;
    let k = listed[0].buffers.k;
    let mut tile = [0.0f32; 16 * DT_BLOCK];
    for b0 in (0..len).step_by(DT_BLOCK) {
        let (o0, outs) = (first + b0, (len - b0).min(DT_BLOCK));
        let masks: [__mmask16; 4] = std::array::from_fn(|b| mask_of(outs.saturating_sub(16 * b)));
        for j0 in (0..k).step_by(16) {
            let width = (k - j0).min(16);
            for u in 0..width / DT_GROUP {
                let group = j0 / DT_GROUP + u;
                let mut acc = [[_mm512_setzero_ps(); 4]; DT_GROUP];
                let mut row0 = 0;
                for part in listed.iter().map(|p| &p.buffers) {
                    let (at, count) = (group * (part.listed + 16), part.group_counts[group]);
                    let list = &part.group_rows[at..at + count];
                    let values = &part.group_vals[DT_GROUP * at..DT_GROUP * (at + count)];
                    let d = &delta[row0 * n..];
                    if outs == DT_BLOCK {
                        dt_tile::<false>(list, values, d, n, o0, &masks, &mut acc);
                    } else {
                        dt_tile::<true>(list, values, d, n, o0, &masks, &mut acc);
                    }
                    row0 += part.listed;
                }
                for (q, row) in acc.iter().enumerate() {
                    for (b, a) in row.iter().enumerate() {
                        // SAFETY: tile row 4u + q < 16 holds DT_BLOCK entries.
                        unsafe { _mm512_storeu_ps(tile.as_mut_ptr().add((DT_GROUP * u + q) * DT_BLOCK + 16 * b), *a) };
                    }
                }
            }
            // G[b0 + o, j0 + q] = tile[q, o].
            for b in 0..outs.div_ceil(16) {
                let mut v = [_mm512_setzero_ps(); 16];
                for (q, vq) in v.iter_mut().enumerate().take(width) {
                    // SAFETY: tile row q < 16 holds DT_BLOCK entries.
                    *vq = unsafe { _mm512_loadu_ps(tile.as_ptr().add(q * DT_BLOCK + 16 * b)) };
                }
                transpose16(&mut v);
                for (o, vo) in v.iter().enumerate().take((outs - 16 * b).min(16)) {
                    // SAFETY: G's row b0 + 16b + o < len, entries j0..j0 + width ≤ k.
                    unsafe {
                        _mm512_mask_storeu_ps(g.as_mut_ptr().add((b0 + 16 * b + o) * k + j0), mask_of(width), *vo)
                    };
                }
            }
        }
    }
}

/// One register tile of [`matmul_sparse_dt_x`]: adds to `acc` (4 inputs × 64 outputs from `o0`)
/// the terms of one group's list of rows (of `delta`) and values; `MASKED` reads δ's row through
/// `masks` (the last block, cut at `n`), else whole.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn dt_tile<const MASKED: bool>(
    rows: &[u32],
    values: &[f32],
    delta: &[f32],
    n: usize,
    o0: usize,
    masks: &[std::arch::x86_64::__mmask16; 4],
    acc: &mut [[std::arch::x86_64::__m512; 4]; DT_GROUP],
) {
    use std::arch::x86_64::*;
    for (&r, xr) in rows.iter().zip(values.chunks_exact(DT_GROUP)) {
        let d = delta.as_ptr().wrapping_add(r as usize * n + o0);
        // SAFETY: row r < rows of δ; its entries o0 + 16b.. lie within n whole when not MASKED
        // (o0 + 64 ≤ n), else are cut at n by the masks (a lane masked off is not read).
        let dv: [__m512; 4] = std::array::from_fn(|b| unsafe {
            if MASKED {
                _mm512_maskz_loadu_ps(masks[b], d.wrapping_add(16 * b))
            } else {
                _mm512_loadu_ps(d.add(16 * b))
            }
        });
        for (q, row) in acc.iter_mut().enumerate() {
            let xv = _mm512_set1_ps(xr[q]);
            for (a, &dvb) in row.iter_mut().zip(&dv) {
                *a = _mm512_fmadd_ps(xv, dvb, *a);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_product_declines_where_it_does_not_apply() {
        // f64, a batch too small for a tile, too few inputs: empty scratch, always declined.
        let x64 = vec![0.0f64; 16 * 80];
        let mut none = SparseScratch::<f64>::new(80, 16);
        assert!(!matmul_sparse_x_wt(&x64, 16, 80, &[0.0; 80], 1, &mut [0.0; 16], &mut none));
        let x = vec![0.0f32; 16 * 80];
        let w = vec![0.5f32; 80];
        for mut scratch in [SparseScratch::<f32>::new(80, 15), SparseScratch::new(63, 16), SparseScratch::default()] {
            assert!(!matmul_sparse_x_wt(&x, 16, 80, &w, 1, &mut [0.0; 16], &mut scratch));
        }
        // Scratch for another number of inputs; dense inputs.
        let mut scratch = SparseScratch::<f32>::new(80, 16);
        assert!(!matmul_sparse_x_wt(&x[..16 * 64], 16, 64, &w[..64], 1, &mut [0.0; 16], &mut scratch));
        assert!(!matmul_sparse_x_wt(&vec![0.5f32; 16 * 80], 16, 80, &w, 1, &mut [0.0; 16], &mut scratch));
        // Sparse f32 inputs: taken exactly when the CPU has AVX-512F (the product itself is checked
        // in `tests/kernels.rs`, reported as skipped on other CPUs).
        #[cfg(target_arch = "x86_64")]
        assert_eq!(matmul_sparse_x_wt(&x, 16, 80, &w, 1, &mut [0.0; 16], &mut scratch), has_avx512f());
        // The backward product likewise.
        let d = vec![1.0f32; 16 * 2];
        assert!(!matmul_sparse_dt_x(&d, &x[..16 * 64], 16, 64, 2, &mut [0.0; 128], &mut scratch));
        assert!(!matmul_sparse_dt_x(&d, &vec![0.5f32; 16 * 80], 16, 80, 1, &mut [0.0; 80], &mut scratch));
        assert!(!matmul_sparse_dt_x(&x64, &x64, 16, 80, 1, &mut [0.0; 80], &mut none));
        #[cfg(target_arch = "x86_64")]
        assert_eq!(matmul_sparse_dt_x(&d[..16], &x, 16, 80, 1, &mut [0.0; 80], &mut scratch), has_avx512f());
    }
}
