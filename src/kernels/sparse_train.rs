//! Training's first-layer products that skip zero inputs, and the scratch they run in. One listing
//! of the batch's nonzero inputs (per group of 4 inputs, the rows that ink it) serves both the
//! forward product `Z ← X·Wᵀ` (`W` as a layer stores it) and the weight gradient `∂L/∂W ← δᵀX`;
//! each runs a register tile of 4 inputs × 64 outputs down the lists (also on `W` and `∂L/∂W`
//! held in the tile's own layout, [`pack_rows`], as training holds the first layer's during an
//! epoch: no packing or transposes per step). Both sum in the order of
//! the dense product (over inputs, resp. rows, increasing, one FMA at a time from zero), so
//! skipping the zeros changes no bit (docs/design.md, "Sparse inputs").

use std::marker::PhantomData;

#[cfg(target_arch = "x86_64")]
use super::cpu::has_avx512f;
use super::float::Float;
use super::reductions::count_not_equal;

/// Scratch for [`matmul_sparse_x_wt`] and [`matmul_sparse_dt_x`] on `T` data: the listing of a
/// batch's nonzero inputs ([`SparseScratch::list_inputs`]), which both products read, and one
/// packed block of 64 outputs of `W`. Empty (the products decline) where they cannot apply.
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
    /// The most rows a product here takes (0: an empty scratch, the products decline).
    rows: usize,
    /// `W`'s block of 64 outputs, input-major (k rounded up to 16, × 64), for the forward product.
    wt: Vec<f32>,
    /// Per group of 4 inputs, the rows where any is nonzero and the 4 values there (`rows + 16`
    /// slots each; sized on first use), and how many.
    group_rows: Vec<u32>,
    group_vals: Vec<f32>,
    group_counts: Vec<usize>,
    /// With `halves`: per group, how many of its listed rows (the first) ink both its halves,
    /// and how many after them ink its first half only (the rest ink its second half only).
    group_both: Vec<usize>,
    group_first: Vec<usize>,
    /// Per 16 groups, per row (rounded up to 16), a bit per group that the row inks (with
    /// `halves`, two: bit 2q the group's first two inputs, bit 2q + 1 its last two).
    inked: Vec<u32>,
    /// How many rows the lists hold (0: none listed).
    listed: usize,
    /// Whether the listing wrote the values (`group_vals`); without them a product reads `X`.
    valued: bool,
    /// Whether each group's list is in three parts by the halves of the group its rows ink
    /// (`group_both`, `group_first`), rows increasing within each part only: for the forward
    /// product alone, whose rows' sums are independent; the weight gradient sums over the rows
    /// in order and needs one list.
    halves: bool,
}

impl<T> Default for SparseScratch<T> {
    /// Empty scratch: the product always declines.
    fn default() -> Self {
        Self { buffers: Buffers::default(), _float: PhantomData }
    }
}

impl<T: Float> SparseScratch<T> {
    /// Scratch for products with `k` inputs on batches of up to `rows` rows; empty for types
    /// other than f32, CPUs without AVX-512, batches under 16 rows, or `k` under 64 (too few
    /// inputs to gain). The lists are sized on first use, so that workspaces that never run the
    /// products hold none.
    pub fn new(k: usize, rows: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && has_avx512f() && rows >= 16 && k >= 64 {
            return Self { buffers: Buffers { k, rows, ..Buffers::default() }, _float: PhantomData };
        }
        let _ = (k, rows);
        Self::default()
    }
}

/// Above this fraction of nonzero inputs (judged on a few rows) the dense products are used; an
/// MNIST digit inks 19% of its pixels.
const WT_MAX_DENSITY: f64 = 0.3;

/// `Z ← X·Wᵀ` (`X`: rows × k, mostly zeros; `W`: n × k row-major, as a layer stores it; `Z`:
/// rows × n), skipping the products with zero inputs, on the calling thread. It lists `X`'s
/// nonzero entries ([`SparseScratch::list_inputs`], which the weight gradient of the same batch
/// then reuses: [`matmul_sparse_dt_x_rows`]), packs 64 outputs of `W` at a time input-major, and
/// for each group of 4 inputs holds their 4 × 64 weights in registers while running down the
/// group's rows: per row, 4 loads of `Z`, 16 FMAs, 4 stores. `Z[r, o]` is summed over the inputs
/// in increasing order, one fused multiply-add at a time from zero; the terms skipped are `0·W`,
/// which add nothing (while `W` is finite). On MNIST a row inks 28% of the groups, so the
/// arithmetic is about a quarter of the dense product's. Returns `false`, having done nothing,
/// when it does not apply: not f32, no AVX-512, or inputs not sparse enough; the caller then
/// takes the dense product.
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
    if n == 0 || !scratch.list_inputs(x, rows, k) {
        return false;
    }
    assert!(w.len() >= n * k && z.len() >= rows * n, "matmul_sparse_x_wt: shapes");
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: T is f32 (only then does `list_inputs` list anything).
        let (w, z) = unsafe {
            (
                std::slice::from_raw_parts(w.as_ptr().cast::<f32>(), n * k),
                std::slice::from_raw_parts_mut(z.as_mut_ptr().cast::<f32>(), rows * n),
            )
        };
        // SAFETY: the CPU has AVX-512F (only then does `list_inputs` list anything).
        unsafe { sparse_x_wt_avx512(Weights::Rows(w), n, z, &mut scratch.buffers, None, &[], None) };
    }
    true
}

/// A layer's `W` (n × k) packed once for [`matmul_sparse_x_packed`], as [`matmul_sparse_x_wt`]
/// packs it block by block on every call: per block of 64 outputs, input-major (k rounded up to
/// 16 rows of 64; zeros past n and k). For weights that do not change (inference); f32 on
/// AVX-512F only.
#[derive(Clone, Debug)]
pub struct PackedWeights {
    n: usize,
    k: usize,
    data: Vec<f32>,
}

impl PackedWeights {
    /// `W` packed, or `None` where [`matmul_sparse_x_packed`] would not apply (not f32, no
    /// AVX-512F, or `k` under 64).
    pub fn new<T: Float>(w: &[T], n: usize, k: usize) -> Option<Self> {
        assert!(w.len() >= n * k, "PackedWeights::new: W holds {} < {n}×{k}", w.len());
        #[cfg(target_arch = "x86_64")]
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && has_avx512f() && k >= 64 && n > 0 {
            // SAFETY: T is f32.
            let w = unsafe { std::slice::from_raw_parts(w.as_ptr().cast::<f32>(), n * k) };
            let block_len = k.next_multiple_of(16) * DT_BLOCK;
            let mut data = vec![0.0; n.div_ceil(DT_BLOCK) * block_len];
            for (b, wt) in data.chunks_exact_mut(block_len).enumerate() {
                // SAFETY: the CPU has AVX-512F (checked above).
                unsafe { pack_block(w, n, k, b * DT_BLOCK, wt) };
            }
            return Some(Self { n, k, data });
        }
        None
    }

    /// Packs `W` (the same shape) again, after its values changed; with `threads` ≥ 2, half of
    /// the blocks on another thread.
    pub fn repack<T: Float>(&mut self, w: &[T], threads: usize) {
        let (n, k) = (self.n, self.k);
        assert!(w.len() == n * k, "PackedWeights::repack: W holds {} ≠ {n}×{k}", w.len());
        #[cfg(target_arch = "x86_64")]
        {
            assert!(std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>(), "PackedWeights::repack: not f32");
            // SAFETY: T is f32 (checked just above).
            let w = unsafe { std::slice::from_raw_parts(w.as_ptr().cast::<f32>(), n * k) };
            let block_len = k.next_multiple_of(16) * DT_BLOCK;
            let pack = |data: &mut [f32], first_block: usize| {
                for (b, wt) in data.chunks_exact_mut(block_len).enumerate() {
                    // SAFETY: the CPU has AVX-512F (a `PackedWeights` is made only then).
                    unsafe { pack_block(w, n, k, (first_block + b) * DT_BLOCK, wt) };
                }
            };
            let blocks = n.div_ceil(DT_BLOCK);
            if threads > 1 && blocks > 1 {
                let (d0, d1) = self.data.split_at_mut(blocks / 2 * block_len);
                rayon::join(|| pack(d0, 0), || pack(d1, blocks / 2));
            } else {
                pack(&mut self.data, 0);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (w, threads);
    }

    /// Outputs (rows of `W`).
    pub fn outputs(&self) -> usize {
        self.n
    }

    /// Inputs (columns of `W`).
    pub fn inputs(&self) -> usize {
        self.k
    }
}

/// `Z ← (X − c)·Wᵀ` as [`matmul_sparse_x_wt`] computes it for `c = 0` (same order, same bits),
/// for rows of `X` whose blank entries equal `c`, with `W` packed once ([`PackedWeights`]) rather
/// than on every call: batch inference, where the weights do not change. Lists `X − c` into
/// `scratch` as [`SparseScratch::list_inputs_around`] does, but without judging whether `X` is
/// sparse enough: the caller judges that once per batch (its rows come from memory, and a second
/// look at them costs). Dense inputs cost more time, never other results. Returns `false`, having
/// done nothing, where the product does not apply (not f32, more rows than the scratch holds, or
/// scratch for another width): the caller then takes another product.
///
/// `next`: the rows the caller will hand the next call (empty for none), which the product asks
/// the memory to bring into the L2 cache while its arithmetic runs (prefetch hints, a line per
/// row of the product's inner loop), so that the next listing reads them from there: a batch
/// read once, as inference reads a test set, otherwise comes from memory while the listing waits
/// (784-128-10 on the Intel Xeon, one thread: 8% more images per second). Never read, and never
/// changes a result.
#[allow(clippy::too_many_arguments)]
pub fn matmul_sparse_x_packed<T: Float>(
    x: &[T],
    rows: usize,
    c: T,
    w: &PackedWeights,
    z: &mut [T],
    scratch: &mut SparseScratch<T>,
    next: &[T],
) -> bool {
    let direct = reads_x(c, w.k, w.n);
    if !scratch.list(x, rows, w.k, c, false, !direct, in_parts(w.n)) {
        return false;
    }
    listed_product(&w.data, w.n, w.k, z, scratch, as_f32(next), direct.then(|| as_f32(x)));
    true
}

/// Whether inference lists each group's rows in three parts, by the halves of the group they ink
/// ([`Buffers::halves`]): the product then skips the 8 of a row's 16 FMAs that would add zeros
/// (on MNIST 42% of the listed rows ink one half only: 21% fewer FMAs), but the listing takes
/// three passes over its rows' bits rather than one, which pays from 3 blocks of 64 outputs on.
/// On the Intel Xeon of BENCHMARKS.md, alternated in one process with the single list (the same
/// bits), images per second: 784-800-10 (13 blocks) 1.05× / 1.07× (one / two threads);
/// 784-128-10 (2 blocks) 0.97× / 0.90×.
fn in_parts(n: usize) -> bool {
    n > 2 * DT_BLOCK
}

/// Whether the inference products read each listed row's values from `X` itself rather than
/// from a list of `x − c`: where they are the same bits (`c = +0`: `x − 0 = x` for every float),
/// a group never runs past a row's end (`k` a multiple of 4), and `W` has at most two blocks of
/// 64 outputs. That spares the listing its values pass (16 B copied per listed row and group),
/// and the product finds a row's values in the cache line of its next 3 groups'; but each block
/// reads them again from all over `X` (in L2) where the list would stream them. On the Intel Xeon
/// of BENCHMARKS.md, in one process alternated with the values list: 784-128-10 2-3% more images
/// per second, 784-800-10 (13 blocks) 8% fewer.
fn reads_x<T: Float>(c: T, k: usize, n: usize) -> bool {
    c.f64().to_bits() == 0 && k.is_multiple_of(DT_GROUP) && n <= 2 * DT_BLOCK
}

/// `v` as f32, the type the products run in, where `T` is f32; else empty (any other type's
/// listing holds nothing, so no product reads it or takes its hints).
fn as_f32<T: Float>(v: &[T]) -> &[f32] {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // SAFETY: T is f32.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<f32>(), v.len()) }
    } else {
        &[]
    }
}

/// `A ← max((X − c)·Wᵀ + b, 0)`: [`matmul_sparse_x_packed`] followed by the bias and ReLU pass
/// (`z ← z + b`, `a ← max(z, 0)`, as `Activation::Relu` computes them: the same bits), the two
/// done as each block of outputs leaves the product's stage, so `Z` is never written and read
/// back (inference's first layer; `Z` itself is not needed there). Returns `false`, having done
/// nothing, where [`matmul_sparse_x_packed`] would, and for more than 256 rows (the stage).
/// `next` as there (hints). Panics if `bias` is not `n` long or `a` holds fewer than `rows × n`
/// entries.
#[allow(clippy::too_many_arguments)]
pub fn matmul_sparse_x_packed_relu<T: Float>(
    x: &[T],
    rows: usize,
    c: T,
    w: &PackedWeights,
    bias: &[T],
    a: &mut [T],
    scratch: &mut SparseScratch<T>,
    next: &[T],
) -> bool {
    assert!(bias.len() == w.n && a.len() >= rows * w.n, "matmul_sparse_x_packed_relu: shapes");
    let direct = reads_x(c, w.k, w.n);
    if rows > STAGE_ROWS || !scratch.list(x, rows, w.k, c, false, !direct, in_parts(w.n)) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: T is f32 (only then does a listing hold anything, and it does: checked above).
        let (bias, a) = unsafe {
            (
                std::slice::from_raw_parts(bias.as_ptr().cast::<f32>(), w.n),
                std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<f32>(), rows * w.n),
            )
        };
        let x = direct.then(|| as_f32(x));
        // SAFETY: the CPU has AVX-512F (only then does a listing hold anything).
        unsafe {
            sparse_x_wt_avx512(Weights::Packed(&w.data), w.n, a, &mut scratch.buffers, Some(bias), as_f32(next), x)
        };
    }
    true
}

/// `Z ← X·Wᵀ` as [`matmul_sparse_x_wt`] computes it (same order, same bits), from the inputs
/// `scratch` already holds listed ([`SparseScratch::list_inputs`], rows × k) and `W` packed
/// ([`PackedWeights`]): for steps whose weights were packed once for several products (the two
/// halves of a batch split between threads). Panics if nothing is listed or the widths differ.
pub fn matmul_sparse_x_listed<T: Float>(w: &PackedWeights, z: &mut [T], scratch: &mut SparseScratch<T>) {
    listed_product(&w.data, w.n, w.k, z, scratch, &[], None);
}

/// [`matmul_sparse_x_listed`] with `W` (n × k) given in the packed layout ([`pack_rows`]) as a
/// slice of `T`: the first layer's `W` as training holds it during an epoch. Panics as
/// [`matmul_sparse_x_listed`] does, and if `packed` is not [`packed_len`]`(n, k)` long.
pub fn matmul_sparse_x_listed_in<T: Float>(
    packed: &[T],
    n: usize,
    k: usize,
    z: &mut [T],
    scratch: &mut SparseScratch<T>,
) {
    assert!(
        packed.len() == packed_len(n, k),
        "matmul_sparse_x_listed_in: W holds {} entries, not {n}×{k} packed",
        packed.len()
    );
    assert!(scratch.buffers.listed > 0, "matmul_sparse_x_listed_in: nothing listed");
    // SAFETY: T is f32 (only then does a listing hold anything, checked just above).
    let packed = unsafe { std::slice::from_raw_parts(packed.as_ptr().cast::<f32>(), packed.len()) };
    listed_product(packed, n, k, z, scratch, &[], None);
}

/// The checks and the call into the kernel of the products from a listing and packed weights
/// (`ahead`: hints, as [`matmul_sparse_x_packed`]'s `next`; `x`: the listed rows, where the
/// listing holds no values).
fn listed_product<T: Float>(
    packed: &[f32],
    n: usize,
    k: usize,
    z: &mut [T],
    scratch: &mut SparseScratch<T>,
    ahead: &[f32],
    x: Option<&[f32]>,
) {
    let rows = scratch.buffers.listed;
    assert!(rows > 0 && scratch.buffers.k == k, "matmul_sparse_x_listed: nothing listed, or another width");
    assert!(z.len() >= rows * n, "matmul_sparse_x_listed: Z holds {} < {rows}×{n}", z.len());
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: T is f32 (only then does a listing hold anything).
        let z = unsafe { std::slice::from_raw_parts_mut(z.as_mut_ptr().cast::<f32>(), rows * n) };
        // SAFETY: the CPU has AVX-512F (only then does a listing hold anything).
        unsafe { sparse_x_wt_avx512(Weights::Packed(packed), n, z, &mut scratch.buffers, None, ahead, x) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (packed, z, ahead, x);
}

/// Entries of `W` (n × k) in the packed layout of [`PackedWeights`] and [`pack_rows`].
pub fn packed_len(n: usize, k: usize) -> usize {
    n.div_ceil(DT_BLOCK) * k.next_multiple_of(16) * DT_BLOCK
}

/// `W` (n × k, row-major) into `packed` ([`packed_len`] entries) in the layout the sparse products
/// read and write: per block of 64 outputs, input-major, k rounded up to 16 rows of 64, zeros past
/// n and past k (as [`PackedWeights`] holds it). Any `T`: training packs the first layer's
/// weights, gradient and optimizer state alike, so that an element-wise update reads them side by
/// side. A copy: [`unpack_rows`] gives back the same bits.
pub fn pack_rows<T: Float>(w: &[T], n: usize, k: usize, packed: &mut [T]) {
    assert!(w.len() == n * k && packed.len() == packed_len(n, k), "pack_rows: shapes");
    let block_len = k.next_multiple_of(16) * DT_BLOCK;
    for (b, block) in packed.chunks_exact_mut(block_len).enumerate() {
        block.fill(T::zero());
        for o in 0..(n - b * DT_BLOCK).min(DT_BLOCK) {
            for (j, &v) in w[(b * DT_BLOCK + o) * k..][..k].iter().enumerate() {
                block[j * DT_BLOCK + o] = v;
            }
        }
    }
}

/// `W` (n × k, row-major) from its packed layout ([`pack_rows`]).
pub fn unpack_rows<T: Float>(packed: &[T], n: usize, k: usize, w: &mut [T]) {
    assert!(w.len() == n * k && packed.len() == packed_len(n, k), "unpack_rows: shapes");
    let block_len = k.next_multiple_of(16) * DT_BLOCK;
    for (b, block) in packed.chunks_exact(block_len).enumerate() {
        for o in 0..(n - b * DT_BLOCK).min(DT_BLOCK) {
            for (j, v) in w[(b * DT_BLOCK + o) * k..][..k].iter_mut().enumerate() {
                *v = block[j * DT_BLOCK + o];
            }
        }
    }
}

/// The products' stage: rows of 64 outputs, each row four whole cache lines. A plain array of f32
/// may start anywhere in a line, and then every vector load and store of it spans two lines, which
/// Intel's cores pay for on every access (about 5-10% of the forward product on an Intel Xeon with
/// the stage 4 bytes off a line; BENCHMARKS.md, session 13).
#[repr(C, align(64))]
struct Stage([f32; STAGE_ROWS * DT_BLOCK]);

/// Where the forward product takes `W`'s blocks of 64 outputs from.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Weights<'a> {
    /// `W` as a layer stores it (n × k): each block is packed into the scratch when it is needed.
    Rows(&'a [f32]),
    /// Every block packed once, in order ([`PackedWeights`]).
    Packed(&'a [f32]),
}

/// `W`'s outputs `o0..o0 + 64` (zero past n) input-major into `wt` (k rounded up to 16 rows of
/// 64, zero past k), by 16 × 16 transposes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn pack_block(w: &[f32], n: usize, k: usize, o0: usize, wt: &mut [f32]) {
    use std::arch::x86_64::*;
    let outs = (n - o0).min(DT_BLOCK);
    assert!(w.len() >= n * k && wt.len() >= k.next_multiple_of(16) * DT_BLOCK, "pack_block: shapes");
    for b in 0..4 {
        for j0 in (0..k).step_by(16) {
            let mut v = [_mm512_setzero_ps(); 16];
            for (i, vi) in v.iter_mut().enumerate().take(outs.saturating_sub(16 * b).min(16)) {
                // SAFETY: row o0 + 16b + i < n of W, entries from j0 cut at k by the mask.
                *vi = unsafe { _mm512_maskz_loadu_ps(mask_of(k - j0), w.as_ptr().add((o0 + 16 * b + i) * k + j0)) };
            }
            transpose16(&mut v);
            for (q, vq) in v.iter().enumerate() {
                // SAFETY: wt has (k rounded up to 16) × 64 entries (checked above).
                unsafe { _mm512_storeu_ps(wt.as_mut_ptr().add((j0 + q) * DT_BLOCK + 16 * b), *vq) };
            }
        }
    }
}

/// The body of [`matmul_sparse_x_wt`] and [`matmul_sparse_x_packed`] once the inputs are listed
/// (AVX-512F only). With `relu_bias`, each staged block leaves as `max(z + b, 0)` (the batch must
/// fit the stage). The cache lines of `ahead` are asked for, one per row the inner loop takes.
/// With `x` (the listed rows, `k` a multiple of 4), each row's 4 values of a group are read
/// there; without, from the listing's values.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
unsafe fn sparse_x_wt_avx512(
    weights: Weights<'_>,
    n: usize,
    z: &mut [f32],
    s: &mut Buffers,
    relu_bias: Option<&[f32]>,
    ahead: &[f32],
    x: Option<&[f32]>,
) {
    // (X's shape is checked where it is read.)
    assert!(x.is_some() || s.valued, "sparse_x_wt_avx512: the listing holds no values, and no X was given");
    // SAFETY: the CPU has AVX-512F (this function's contract), for each of the four.
    unsafe {
        match (s.listed <= STAGE_ROWS, x) {
            (true, Some(x)) => sparse_x_wt_in::<true, true>(weights, n, z, s, relu_bias, ahead, x),
            (true, None) => sparse_x_wt_in::<true, false>(weights, n, z, s, relu_bias, ahead, &[]),
            (false, Some(x)) => sparse_x_wt_in::<false, true>(weights, n, z, s, relu_bias, ahead, x),
            (false, None) => sparse_x_wt_in::<false, false>(weights, n, z, s, relu_bias, ahead, &[]),
        }
    }
}

/// [`sparse_x_wt_avx512`] for a batch in the stage or not (`STAGED`: rows ≤ 256), its values read
/// from `x` or from the listing (`DIRECT`): made constants, so that the inner loop finds a row's
/// sums and values with a shift and an add, rather than multiplies by strides held in memory
/// (which, with a hint's bounds check per row, cost 8-12% of a stand-alone copy of the loop).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sparse_x_wt_in<const STAGED: bool, const DIRECT: bool>(
    weights: Weights<'_>,
    n: usize,
    z: &mut [f32],
    s: &mut Buffers,
    relu_bias: Option<&[f32]>,
    ahead: &[f32],
    x: &[f32],
) {
    use std::arch::x86_64::*;
    let (rows, k) = (s.listed, s.k);
    let slots = rows + 16;
    let block_len = k.next_multiple_of(16) * DT_BLOCK;
    let staged = STAGED;
    assert!(staged || relu_bias.is_none(), "sparse_x_wt_avx512: the bias and ReLU need the stage");
    assert!(!DIRECT || x.len() >= rows * k && k.is_multiple_of(DT_GROUP), "sparse_x_wt_avx512: X's shape");
    // Left uninitialised (see the weight gradient's): each block zeroes its rows before use.
    let mut stage = std::mem::MaybeUninit::<Stage>::uninit();
    let stage = stage.as_mut_ptr().cast::<f32>();
    // `ahead`'s cache lines, from the one its first entry lies in, and the next one to ask for.
    let skew = ahead.as_ptr() as usize % 64;
    // (None for an empty slice, whose pointer is only a placeholder.)
    let lines = if ahead.is_empty() { 0 } else { (skew + 4 * ahead.len()).div_ceil(64) };
    let first_line = ahead.as_ptr().cast::<i8>().wrapping_sub(skew);
    // They are asked for in the last blocks of outputs, one line per listed row, enough blocks
    // to ask for all: early enough to arrive, late enough that the weights of a wide layer
    // (784-800: 2.5 MB) streaming through the L2 cache do not push them out again.
    let pairs: usize = s.group_counts[..k.div_ceil(DT_GROUP)].iter().sum();
    let hint_from = n.div_ceil(DT_BLOCK).saturating_sub(lines.div_ceil(pairs.max(1))) * DT_BLOCK;
    let mut next_line = 0;
    for o0 in (0..n).step_by(DT_BLOCK) {
        let lines = if o0 >= hint_from { lines } else { 0 };
        let outs = (n - o0).min(DT_BLOCK);
        let masks: [__mmask16; 4] = std::array::from_fn(|b| mask_of(outs.saturating_sub(16 * b)));
        // wt[j, o] = W[o0 + o, j] (zero past n and past k).
        let wt: &[f32] = match weights {
            Weights::Rows(w) => {
                pack_block(w, n, k, o0, &mut s.wt);
                &s.wt
            }
            Weights::Packed(p) => &p[o0 / DT_BLOCK * block_len..][..block_len],
        };
        // Z[·, o0..o0 + outs] = 0, then each group's terms added in order: in the stage (rows of
        // 64) when the batch fits, copied to Z after, else in Z itself.
        let (base, stride, at0) = if staged { (stage, DT_BLOCK, 0) } else { (z.as_mut_ptr(), n, o0) };
        // A whole block, or the stage (zeroed whole), is read and written below without masks.
        let whole = outs == DT_BLOCK || staged;
        for r in 0..rows {
            for (b, &m) in masks.iter().enumerate() {
                let m = if staged { 0xffff } else { m };
                // SAFETY: row r < rows of the stage or of Z, entries from at0 + 16b cut at the
                // row's end by the mask (the stage's rows are whole).
                unsafe { _mm512_mask_storeu_ps(base.wrapping_add(r * stride + at0 + 16 * b), m, _mm512_setzero_ps()) };
            }
        }
        for group in 0..k.div_ceil(DT_GROUP) {
            let wv: [[__m512; 4]; DT_GROUP] = std::array::from_fn(|q| {
                // SAFETY: row 4·group + q of wt, within its k rounded up to 16 rows of 64.
                std::array::from_fn(|b| unsafe {
                    _mm512_loadu_ps(wt.as_ptr().add((DT_GROUP * group + q) * DT_BLOCK + 16 * b))
                })
            });
            let (at, count) = (group * slots, s.group_counts[group]);
            let list = &s.group_rows[at..at + count];
            // The i-th listed row's 4 values (row r): x's row r from 4·group, or the list's i-th.
            let values = if DIRECT {
                x[DT_GROUP * group..].as_ptr()
            } else {
                s.group_vals[DT_GROUP * at..DT_GROUP * (at + count)].as_ptr()
            };
            // A row's terms of inputs `from..to` of the group, added in order to its 64 sums `zv`.
            let terms = |mut zv: [__m512; 4], xr: &[f32], from: usize, to: usize| {
                for q in from..to {
                    let xv = _mm512_set1_ps(xr[q]);
                    for (a, &wb) in zv.iter_mut().zip(&wv[q]) {
                        *a = _mm512_fmadd_ps(xv, wb, *a);
                    }
                }
                zv
            };
            // One listed row's visit: the terms of its values `from..to` (the rest are zero: a
            // half of the group it does not ink) added to its 64 sums.
            let visit = |i: usize, r: usize, from: usize, to: usize| {
                // SAFETY: with DIRECT, row r < rows of X (asserted rows × k) from 4·group, whose
                // 4 entries end by k (a multiple of 4); else the listing's entry i < count.
                let xr = unsafe {
                    std::slice::from_raw_parts(
                        if DIRECT { values.add(r * k) } else { values.add(i * DT_GROUP) },
                        DT_GROUP,
                    )
                };
                let zr = base.wrapping_add(r * stride + at0);
                if whole {
                    // SAFETY: row r < rows of the stage or of Z, with 64 entries from `at0`.
                    unsafe {
                        // The first of the row's terms takes `Z`'s row as it is loaded.
                        let x0 = _mm512_set1_ps(xr[from]);
                        let zv = terms(
                            std::array::from_fn(|b| {
                                _mm512_fmadd_ps(x0, wv[from][b], _mm512_loadu_ps(zr.wrapping_add(16 * b)))
                            }),
                            xr,
                            from + 1,
                            to,
                        );
                        for (b, a) in zv.iter().enumerate() {
                            _mm512_storeu_ps(zr.wrapping_add(16 * b), *a);
                        }
                    }
                    return;
                }
                // SAFETY: row r < rows of Z, entries cut at its end by the masks (a lane masked
                // off is neither read nor written).
                unsafe {
                    let zv = terms(
                        std::array::from_fn(|b| _mm512_maskz_loadu_ps(masks[b], zr.wrapping_add(16 * b))),
                        xr,
                        from,
                        to,
                    );
                    for (b, a) in zv.iter().enumerate() {
                        _mm512_mask_storeu_ps(zr.wrapping_add(16 * b), masks[b], *a);
                    }
                }
            };
            // The list's entries `part` visited for the group's inputs `from..to`: the first each
            // ask for a line of `ahead` (a hint: it reads nothing and cannot fault), the rest run
            // without the check.
            let mut run = |part: std::ops::Range<usize>, from: usize, to: usize| {
                let hinted = part.len().min(lines.saturating_sub(next_line));
                let (head, tail) = list[part.clone()].split_at(hinted);
                for (i, &r) in head.iter().enumerate() {
                    _mm_prefetch::<_MM_HINT_T1>(first_line.wrapping_add(64 * (next_line + i)));
                    visit(part.start + i, r as usize, from, to);
                }
                next_line += hinted;
                for (i, &r) in tail.iter().enumerate() {
                    visit(part.start + hinted + i, r as usize, from, to);
                }
            };
            if s.halves {
                // Rows that ink both halves, the first only, the second only.
                let (both, first) = (s.group_both[group], s.group_first[group]);
                run(0..both, 0, DT_GROUP);
                run(both..both + first, 0, DT_GROUP / 2);
                run(both + first..count, DT_GROUP / 2, DT_GROUP);
            } else {
                run(0..count, 0, DT_GROUP);
            }
        }
        if let Some(bias) = relu_bias {
            // The block's 64 biases (zero past n), as `z + b` then `max(·, 0)` add and compare
            // them one element at a time: the same bits as the activation pass.
            let mut bv = [0.0f32; DT_BLOCK];
            bv[..outs].copy_from_slice(&bias[o0..o0 + outs]);
            for r in 0..rows {
                // SAFETY: stage row r < rows holds 64 entries.
                let sums = unsafe { &*stage.add(r * DT_BLOCK).cast::<[f32; DT_BLOCK]>() };
                let mut out = [0.0f32; DT_BLOCK];
                for ((o, &v), &b) in out.iter_mut().zip(sums).zip(&bv) {
                    *o = (v + b).max(0.0);
                }
                // Out by masked vector stores: a call to copy 64 floats took 2% of a 784-128-10 pass.
                assert!(z.len() >= r * n + o0 + outs);
                for (b, &m) in masks.iter().enumerate() {
                    // SAFETY: Z's row r from o0 + 16b, cut at o0 + outs ≤ n by the mask
                    // (asserted within Z just above).
                    unsafe {
                        let v = _mm512_loadu_ps(out.as_ptr().add(16 * b));
                        _mm512_mask_storeu_ps(z.as_mut_ptr().wrapping_add(r * n + o0 + 16 * b), m, v);
                    }
                }
            }
        } else if staged {
            for r in 0..rows {
                for (b, &m) in masks.iter().enumerate() {
                    // SAFETY: stage row r < rows holds 64 entries, those under the mask written;
                    // Z's row r from o0 + 16b is cut at n by the mask.
                    unsafe {
                        let v = _mm512_maskz_loadu_ps(m, stage.add(r * DT_BLOCK + 16 * b));
                        _mm512_mask_storeu_ps(z.as_mut_ptr().wrapping_add(r * n + o0 + 16 * b), m, v);
                    }
                }
            }
        }
    }
}

/// Rows per call of [`matmul_sparse_x_packed`] that inference's batches are cut into: the stage of
/// 128 rows of 64 outputs (32 KB) stays in the L1 cache, where 256 rows (64 KB) do not (784-800
/// on the AMD EPYC of docs/design.md: 2.16 µs per row in calls of 128 rows, 2.29 in calls of 256).
pub const PACKED_CHUNK_ROWS: usize = 128;

/// Batches of up to this many rows run their 64 outputs through a contiguous stage (64 KB, on
/// the stack) instead of `Z`'s or `δ`'s own rows: rows `n` floats apart alias in the L1 cache when
/// `n·4` bytes is a multiple of 4 KB (784-1024-10's forward took 3.6× the time of 784-800-10's).
const STAGE_ROWS: usize = 256;

/// Whether `x` (rows × k) is sparse enough (entries other than `c`) for the products here, judged
/// on up to 8 of its rows.
fn sparse_enough<T: Float>(x: &[T], rows: usize, k: usize, c: T) -> bool {
    let step = rows.div_ceil(8);
    let ink: usize = (0..rows).step_by(step).map(|r| count_not_equal(&x[r * k..(r + 1) * k], c)).sum();
    ink as f64 <= WT_MAX_DENSITY * (rows.div_ceil(step) * k) as f64
}

/// `∂L/∂W ← δᵀX` (`δ`: rows × n; `X`: rows × k, mostly zeros; `G`: n × k row-major, as a layer
/// stores `W`), skipping zero inputs, on the calling thread: [`SparseScratch::list_inputs`], then
/// [`matmul_sparse_dt_x_rows`] for all `n` outputs. Returns `false`, having done nothing, where
/// it does not apply (not f32, no AVX-512, inputs not sparse enough); the caller then takes the
/// dense product.
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
    /// Lists `X`'s nonzero entries (rows × k) for [`matmul_sparse_x_wt`] and
    /// [`matmul_sparse_dt_x_rows`]: per group of 4 inputs (the last one padded with zeros), the
    /// rows where any of them is nonzero, in increasing order, with the 4 values there. Returns
    /// `false`, listing nothing, where the sparse products do not apply (as
    /// [`matmul_sparse_dt_x`], or more rows than the scratch was made for). Its first call sizes
    /// the lists for the scratch's rows (`k/4 × (rows + 16)` row numbers, 4 values each: 4.4 KB
    /// per row for MNIST), so that no later call allocates.
    pub fn list_inputs(&mut self, x: &[T], rows: usize, k: usize) -> bool {
        self.list_inputs_around(x, rows, k, T::zero())
    }

    /// How many rows the last listing holds (0: none, or the last call declined).
    pub fn listed_rows(&self) -> usize {
        self.buffers.listed
    }

    /// The most rows a listing here takes (0: empty scratch, which lists nothing).
    pub fn capacity(&self) -> usize {
        self.buffers.rows
    }

    /// [`SparseScratch::list_inputs`] without judging first whether `X` is sparse enough: for a
    /// caller that judged already, for whom dense inputs cost more time, never other results.
    pub fn list_all_inputs(&mut self, x: &[T], rows: usize, k: usize) -> bool {
        self.list(x, rows, k, T::zero(), false, true, false)
    }

    /// [`SparseScratch::list_inputs`] of `X − c` (inputs equal to `c` skipped, the values listed
    /// `x − c`), for inputs whose blank value `c` is not zero (normalised pixels).
    pub fn list_inputs_around(&mut self, x: &[T], rows: usize, k: usize, c: T) -> bool {
        self.list(x, rows, k, c, true, true, false)
    }

    /// The listing, judging first (`judge`) whether `x` is sparse enough for it to pay; the values
    /// listed only with `values`; each group's list in three parts with `halves` (for the forward
    /// product only: [`Buffers::halves`]).
    #[allow(clippy::too_many_arguments)]
    fn list(&mut self, x: &[T], rows: usize, k: usize, c: T, judge: bool, values: bool, halves: bool) -> bool {
        let s = &mut self.buffers;
        s.listed = 0;
        #[cfg(target_arch = "x86_64")]
        {
            if s.k != k || s.rows == 0 || rows == 0 || rows > s.rows {
                return false;
            }
            assert!(x.len() >= rows * k, "SparseScratch::list_inputs: X holds {} < {rows}×{k}", x.len());
            if s.group_rows.is_empty() {
                // Sized once, for the most rows, whatever this batch's ink.
                let (slots, groups) = (s.rows + 16, k.div_ceil(DT_GROUP));
                s.group_rows = vec![0; groups * slots];
                s.group_vals = vec![0.0; DT_GROUP * groups * slots];
                s.group_counts = vec![0; groups];
                s.group_both = vec![0; groups];
                s.group_first = vec![0; groups];
                s.inked = vec![0; groups.div_ceil(16) * s.rows.next_multiple_of(16)];
                s.wt = vec![0.0; k.next_multiple_of(16) * DT_BLOCK];
            }
            if judge && !sparse_enough(x, rows, k, c) {
                return false;
            }
            // SAFETY: T is f32 (a non-empty `SparseScratch<T>` is made only for T = f32).
            let x = unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), rows * k) };
            // SAFETY: the CPU has AVX-512F (a non-empty scratch is made only then).
            unsafe { list_inputs_avx512(x, rows, k, c.f64() as f32, s, values, halves) };
            (s.listed, s.valued, s.halves) = (rows, values, halves);
            true
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (x, rows, k, c, judge, values, halves);
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
    sparse_dt_x::<T, false>(delta, n, first, len, g, listed);
}

/// [`matmul_sparse_dt_x_rows`] (the same sums, the same bits) into `G` held in the packed layout
/// ([`pack_rows`]) rather than row-major: `g` holds the blocks of outputs `first..first + len`
/// (`first` a multiple of 64), which are the tile's own layout, so no transposes are needed.
/// Training keeps the first layer's `W`, gradient and optimizer state so during an epoch.
///
/// Panics as [`matmul_sparse_dt_x_rows`] does, and if `first` is not a multiple of 64.
pub fn matmul_sparse_dt_x_packed<T: Float>(
    delta: &[T],
    n: usize,
    first: usize,
    len: usize,
    g: &mut [T],
    listed: &[&SparseScratch<T>],
) {
    assert!(
        first.is_multiple_of(DT_BLOCK),
        "matmul_sparse_dt_x_packed: first output {first} not a multiple of {DT_BLOCK}"
    );
    sparse_dt_x::<T, true>(delta, n, first, len, g, listed);
}

/// The checks and the call into the kernel of [`matmul_sparse_dt_x_rows`] (`G` row-major) and
/// [`matmul_sparse_dt_x_packed`] (`G` packed).
fn sparse_dt_x<T: Float, const PACKED: bool>(
    delta: &[T],
    n: usize,
    first: usize,
    len: usize,
    g: &mut [T],
    listed: &[&SparseScratch<T>],
) {
    let k = listed.first().map_or(0, |s| s.buffers.k);
    let g_len = if PACKED { packed_len(len, k) } else { len * k };
    assert!(
        listed.iter().all(|s| s.buffers.listed > 0 && s.buffers.valued && !s.buffers.halves && s.buffers.k == k),
        "matmul_sparse_dt_x_rows: a listing is empty, of another width, or in parts"
    );
    let rows: usize = listed.iter().map(|s| s.buffers.listed).sum();
    assert!(
        !listed.is_empty() && first + len <= n && delta.len() >= rows * n && g.len() >= g_len,
        "matmul_sparse_dt_x_rows: shapes"
    );
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: T is f32 (only then does `list_inputs` list anything).
        let (delta, g) = unsafe {
            (
                std::slice::from_raw_parts(delta.as_ptr().cast::<f32>(), rows * n),
                std::slice::from_raw_parts_mut(g.as_mut_ptr().cast::<f32>(), g_len),
            )
        };
        // SAFETY: the CPU has AVX-512F (only then does `list_inputs` list anything).
        unsafe { sparse_dt_x_rows_avx512::<T, PACKED>(delta, n, first, len, g, listed) };
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

/// The body of [`SparseScratch::list_inputs_around`] once it applies (AVX-512F only; lists
/// sized), in three passes without a branch that depends on the ink, so that the core runs far
/// enough ahead to stream the rows from memory: (1) row by row, 64 inputs at a time, four
/// comparisons with `c` give a bit per input, folded into a bit per group of 4 and stored per
/// 16 groups (`inked`); (2) per group, 16 rows at a time, the rows whose bit is set are
/// compressed into the group's list; (3) with `values`, per group, the 4 values of each listed
/// row, `x − c` (for `c = 0`, `x` itself: `x − 0 = x` for every float). With `halves`, pass (1)
/// keeps a bit per half group and pass (2) lists each group in three parts (rows inking both
/// halves, the first only, the second only: [`Buffers::halves`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,popcnt")]
fn list_inputs_avx512(x: &[f32], rows: usize, k: usize, c: f32, s: &mut Buffers, values: bool, halves: bool) {
    use std::arch::x86_64::*;
    let slots = rows + 16;
    let groups = k.div_ceil(DT_GROUP);
    let (chunks, padded) = (groups.div_ceil(16), rows.next_multiple_of(16));
    assert!(x.len() >= rows * k && s.group_counts.len() >= groups && s.inked.len() >= chunks * padded);
    assert!(s.group_rows.len() >= groups * slots && s.group_vals.len() >= DT_GROUP * groups * slots);
    let cv = _mm512_set1_ps(c);
    // (1) inked[chunk · padded + r], bit q: row r inks group 16·chunk + q (with halves, bits 2q
    // and 2q + 1: its first and its second half).
    let inked = s.inked.as_mut_ptr();
    let fold = |m: u64| if halves { half_bits(m) } else { group_bits(m) };
    let full = k / 64 * 64;
    for r in 0..rows {
        // SAFETY: row r < rows of x (asserted above).
        let row = unsafe { x.as_ptr().add(r * k) };
        for j0 in (0..full).step_by(64) {
            // SAFETY: 64 entries of row r from j0 < full ≤ k; chunk j0 / 64 < chunks.
            unsafe {
                let m0 = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(_mm512_loadu_ps(row.add(j0)), cv) as u64;
                let m1 = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(_mm512_loadu_ps(row.add(j0 + 16)), cv) as u64;
                let m2 = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(_mm512_loadu_ps(row.add(j0 + 32)), cv) as u64;
                let m3 = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(_mm512_loadu_ps(row.add(j0 + 48)), cv) as u64;
                *inked.add(j0 / 64 * padded + r) = fold(m0 | m1 << 16 | m2 << 32 | m3 << 48);
            }
        }
        if full < k {
            let mut nonzero = 0u64;
            for (t, j) in (full..k).step_by(16).enumerate() {
                let m = mask_of(k - j);
                // SAFETY: the mask covers only the row's entries from j (< k).
                let v = unsafe { _mm512_maskz_loadu_ps(m, row.add(j)) };
                nonzero |= u64::from(_mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(m, v, cv)) << (16 * t);
            }
            // SAFETY: chunk full / 64 < chunks.
            unsafe { *inked.add(full / 64 * padded + r) = fold(nonzero) };
        }
    }
    for r in rows..padded {
        for chunk in 0..chunks {
            s.inked[chunk * padded + r] = 0;
        }
    }
    // (2) Each group's rows, in increasing order: 16 at a time, the lanes of rows whose bits
    // (`bits`, masked) equal `want` compressed to the front and stored whole at the list's end
    // (a list has 16 slots to spare); with halves, three times, one part after the other.
    let list_rows = s.group_rows.as_mut_ptr();
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let inked = s.inked.as_ptr();
    let append = |group: usize, bits: u32, want: u32, mut count: usize| {
        let (chunk, bits, want) = (group / 16, _mm512_set1_epi32(bits as i32), _mm512_set1_epi32(want as i32));
        for r0 in (0..padded).step_by(16) {
            // SAFETY: 16 words of chunk `chunk` from row r0 < padded; the list's entries from
            // count ≤ rows (the parts hold different rows) to count + 16 ≤ rows + 16 = slots.
            unsafe {
                let words = _mm512_loadu_si512(inked.add(chunk * padded + r0).cast());
                let m = _mm512_cmpeq_epi32_mask(_mm512_and_si512(words, bits), want);
                let listed = _mm512_maskz_compress_epi32(m, _mm512_add_epi32(lanes, _mm512_set1_epi32(r0 as i32)));
                _mm512_storeu_si512(list_rows.add(group * slots + count).cast(), listed);
                count += m.count_ones() as usize;
            }
        }
        count
    };
    for group in 0..groups {
        if halves {
            let (first, second) = (1 << (2 * (group % 16)), 2 << (2 * (group % 16)));
            let both = append(group, first | second, first | second, 0);
            let first_only = append(group, first | second, first, both);
            s.group_both[group] = both;
            s.group_first[group] = first_only - both;
            s.group_counts[group] = append(group, first | second, second, first_only);
        } else {
            let bit = 1 << (group % 16);
            s.group_counts[group] = append(group, bit, bit, 0);
        }
    }
    if !values {
        return;
    }
    // (3) The values: whole groups straight from x, the last, partial one (k not a multiple of
    // 4) under a mask that reads `c` past k (so that x − c is 0 there).
    let c4 = _mm512_castps512_ps128(cv);
    let list_vals = s.group_vals.as_mut_ptr();
    for group in 0..groups {
        let j = DT_GROUP * group;
        let at = group * slots;
        let list = &s.group_rows[at..at + s.group_counts[group]];
        if j + DT_GROUP <= k {
            for (i, &r) in list.iter().enumerate() {
                // SAFETY: row r < rows, its entries j..j + 4 ≤ k; entry at + i < groups · slots.
                unsafe {
                    let v = _mm_loadu_ps(x.as_ptr().add(r as usize * k + j));
                    _mm_storeu_ps(list_vals.add(DT_GROUP * (at + i)), _mm_sub_ps(v, c4));
                }
            }
        } else {
            for (i, &r) in list.iter().enumerate() {
                // SAFETY: as above, the entries past k masked off (not read).
                unsafe {
                    let v = _mm512_mask_loadu_ps(cv, mask_of(k - j), x.as_ptr().add(r as usize * k + j));
                    _mm_storeu_ps(list_vals.add(DT_GROUP * (at + i)), _mm_sub_ps(_mm512_castps512_ps128(v), c4));
                }
            }
        }
    }
}

/// Bits 2h and 2h + 1 of `nonzero` (the inputs of half group h) folded into bit h of 32.
#[inline(always)]
fn half_bits(nonzero: u64) -> u32 {
    let mut t = (nonzero | (nonzero >> 1)) & 0x5555_5555_5555_5555;
    t = (t | (t >> 1)) & 0x3333_3333_3333_3333;
    t = (t | (t >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    t = (t | (t >> 4)) & 0x00ff_00ff_00ff_00ff;
    t = (t | (t >> 8)) & 0x0000_ffff_0000_ffff;
    ((t | (t >> 16)) & 0xffff_ffff) as u32
}

/// Bit 4g of `nonzero` and the 3 above it (the inputs of group g) folded into bit g of 16.
#[inline(always)]
fn group_bits(nonzero: u64) -> u32 {
    let any = nonzero | (nonzero >> 1);
    let mut t = (any | (any >> 2)) & 0x1111_1111_1111_1111;
    t = (t | (t >> 3)) & 0x0303_0303_0303_0303;
    t = (t | (t >> 6)) & 0x000f_000f_000f_000f;
    t = (t | (t >> 12)) & 0x0000_00ff_0000_00ff;
    ((t | (t >> 24)) & 0xffff) as u32
}

/// The body of [`matmul_sparse_dt_x_rows`] (AVX-512F only; inputs listed).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sparse_dt_x_rows_avx512<T, const PACKED: bool>(
    delta: &[f32],
    n: usize,
    first: usize,
    len: usize,
    g: &mut [f32],
    listed: &[&SparseScratch<T>],
) {
    use std::arch::x86_64::*;
    let k = listed[0].buffers.k;
    let rows: usize = listed.iter().map(|p| p.buffers.listed).sum();
    let staged = rows <= STAGE_ROWS;
    // Left uninitialised: each block writes its rows' 64 entries before anything reads them.
    let mut stage = std::mem::MaybeUninit::<Stage>::uninit();
    let stage = stage.as_mut_ptr().cast::<f32>();
    let mut tile = [0.0f32; 16 * DT_BLOCK];
    let block_len = k.next_multiple_of(16) * DT_BLOCK;
    for b0 in (0..len).step_by(DT_BLOCK) {
        let (o0, outs) = (first + b0, (len - b0).min(DT_BLOCK));
        let masks: [__mmask16; 4] = std::array::from_fn(|b| mask_of(outs.saturating_sub(16 * b)));
        if staged {
            // δ[·, o0..o0 + outs] into the stage's rows of 64 (zeros past n).
            for r in 0..rows {
                for (b, &m) in masks.iter().enumerate() {
                    // SAFETY: δ's row r < rows from o0 + 16b, cut at n by the mask; stage row r
                    // < STAGE_ROWS holds 64 entries.
                    unsafe {
                        let v = _mm512_maskz_loadu_ps(m, delta.as_ptr().wrapping_add(r * n + o0 + 16 * b));
                        _mm512_storeu_ps(stage.add(r * DT_BLOCK + 16 * b), v);
                    }
                }
            }
        }
        let (from, stride, at0) = if staged {
            // SAFETY: the loop above wrote all `rows` rows of 64 entries of the stage.
            (unsafe { std::slice::from_raw_parts(stage, rows * DT_BLOCK) }, DT_BLOCK, 0)
        } else {
            (delta, n, o0)
        };
        for j0 in (0..k).step_by(16) {
            let width = (k - j0).min(16);
            for u in 0..width.div_ceil(DT_GROUP) {
                let group = j0 / DT_GROUP + u;
                let mut acc = [[_mm512_setzero_ps(); 4]; DT_GROUP];
                let mut row0 = 0;
                for part in listed.iter().map(|p| &p.buffers) {
                    let (at, count) = (group * (part.listed + 16), part.group_counts[group]);
                    let list = &part.group_rows[at..at + count];
                    let values = &part.group_vals[DT_GROUP * at..DT_GROUP * (at + count)];
                    let d = &from[row0 * stride..];
                    if staged || outs == DT_BLOCK {
                        dt_tile::<false>(list, values, d, stride, at0, &masks, &mut acc);
                    } else {
                        dt_tile::<true>(list, values, d, stride, at0, &masks, &mut acc);
                    }
                    row0 += part.listed;
                }
                // Packed, the tile is `G`'s layout already: block b0 / 64, rows j0 + 4u + q.
                let (to, stride) = if PACKED {
                    (g.as_mut_ptr().wrapping_add(b0 / DT_BLOCK * block_len + (j0 + DT_GROUP * u) * DT_BLOCK), DT_BLOCK)
                } else {
                    (tile.as_mut_ptr().wrapping_add(DT_GROUP * u * DT_BLOCK), DT_BLOCK)
                };
                for (q, row) in acc.iter().enumerate() {
                    for (b, a) in row.iter().enumerate() {
                        // SAFETY: tile row 4u + q < 16 holds DT_BLOCK entries; packed, row
                        // j0 + 4u + q < k rounded up to 16 of G's block b0 / 64 < len / 64
                        // rounded up (checked by the caller).
                        unsafe { _mm512_storeu_ps(to.add(q * stride + 16 * b), *a) };
                    }
                }
            }
            if PACKED {
                // Rows past k up to the next 16 hold zeros, as packed `W`'s do.
                for j in j0 + width.next_multiple_of(DT_GROUP)..j0 + 16 {
                    // SAFETY: row j < k rounded up to 16 of G's block b0 / 64.
                    let row = unsafe { g.as_mut_ptr().add(b0 / DT_BLOCK * block_len + j * DT_BLOCK) };
                    for b in 0..4 {
                        // SAFETY: the row holds DT_BLOCK entries.
                        unsafe { _mm512_storeu_ps(row.add(16 * b), _mm512_setzero_ps()) };
                    }
                }
                continue;
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
