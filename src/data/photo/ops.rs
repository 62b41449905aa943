//! The operations on grey pixel grids that the preprocessing is made of: percentiles, Otsu's
//! threshold, the paper level, connected pieces of ink, bounding boxes, dilation, stroke width and
//! area resampling.

/// The value at fraction `q` (0–1) of `values` in sorted order, interpolated between the two
/// nearest ranks: what indexing the sorted values gives, found by selection in linear time
/// (`values` is reordered).
pub(super) fn percentile(values: &mut [f32], q: f64) -> f32 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let (i, frac) = (pos.floor() as usize, (pos - pos.floor()) as f32);
    let (_, &mut a, right) = values.select_nth_unstable_by(i, f32::total_cmp);
    // The next rank is the smallest of those after it.
    let b = right.iter().copied().min_by(f32::total_cmp).unwrap_or(a);
    a + (b - a) * frac
}

/// [`percentile`] at each of `qs`, the values left in place: exactly what indexing the sorted values
/// gives, found in two passes whatever their number. The values are counted into bins over their
/// range (binning is monotone, so a rank's bin is known from the counts), then only the values in
/// the bins holding the wanted ranks are gathered and selected among.
pub(super) fn percentiles<const N: usize>(values: &[f32], qs: [f64; N]) -> [f32; N] {
    let n = values.len();
    if n == 0 {
        return [0.0; N];
    }
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if hi <= lo {
        return [lo; N];
    }
    const BINS: usize = 4096;
    let scale = BINS as f32 / (hi - lo);
    // The bins first, in a pass of their own (vectorised), then counted: four sets of counts, summed
    // after, as neighbouring pixels often fall in the same bin and one set would make each count
    // wait for the last.
    let bins: Vec<u16> = values.iter().map(|&v| (((v - lo) * scale) as i32).clamp(0, BINS as i32 - 1) as u16).collect();
    let mut counts = vec![0u32; 4 * BINS];
    let mut quads = bins.chunks_exact(4);
    for q in &mut quads {
        for (k, &b) in q.iter().enumerate() {
            counts[k * BINS + usize::from(b)] += 1;
        }
    }
    for &b in quads.remainder() {
        counts[usize::from(b)] += 1;
    }
    let (counts, rest) = counts.split_at_mut(BINS);
    for part in rest.chunks_exact(BINS) {
        counts.iter_mut().zip(part).for_each(|(c, p)| *c += p);
    }
    // The ranks wanted: each quantile's and the next (for the interpolation).
    let ranks: [(usize, usize, f32); N] = qs.map(|q| {
        let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
        let i = pos.floor() as usize;
        (i, (i + 1).min(n - 1), (pos - pos.floor()) as f32)
    });
    // The bins holding a wanted rank, each with the rank of its first value and its values.
    let mut slot = vec![u8::MAX; BINS];
    let mut held: Vec<(usize, Vec<f32>)> = Vec::new();
    let mut targets: Vec<usize> = ranks.iter().flat_map(|&(a, b, _)| [a, b]).collect();
    targets.sort_unstable();
    let (mut below, mut t) = (0usize, 0);
    for (b, &c) in counts.iter().enumerate() {
        let c = c as usize;
        if t < targets.len() && targets[t] < below + c {
            slot[b] = held.len() as u8;
            held.push((below, Vec::with_capacity(c)));
            while t < targets.len() && targets[t] < below + c {
                t += 1;
            }
        }
        below += c;
    }
    for (&v, &b) in values.iter().zip(&bins) {
        let k = slot[usize::from(b)];
        if k != u8::MAX {
            held[usize::from(k)].1.push(v);
        }
    }
    let mut value_at = |rank: usize| -> f32 {
        let (first, g) =
            held.iter_mut().rev().find(|(first, _)| *first <= rank).expect("each wanted rank's bin is held");
        *g.select_nth_unstable_by(rank - *first, f32::total_cmp).1
    };
    ranks.map(|(i, j, frac)| {
        let a = value_at(i);
        let b = value_at(j);
        a + (b - a) * frac
    })
}

/// Otsu's threshold: the level that maximises the between-class variance of the two sides (over
/// a 256-bin histogram of the values' range).
pub(super) fn otsu_threshold(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if hi - lo < 1e-6 {
        return hi;
    }
    let bins = 256;
    let width = (hi - lo) / bins as f32;
    let mut counts = [[0u32; 256]; 4];
    let bin = |x: f32| (((x - lo) / width) as i32).clamp(0, bins as i32 - 1) as usize;
    let mut quads = values.chunks_exact(4);
    for q in &mut quads {
        for (k, &x) in q.iter().enumerate() {
            counts[k][bin(x)] += 1;
        }
    }
    for &x in quads.remainder() {
        counts[0][bin(x)] += 1;
    }
    let hist: Vec<f64> = (0..bins).map(|i| f64::from(counts.iter().map(|c| c[i]).sum::<u32>())).collect();
    let total: f64 = hist.iter().sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * c).sum();
    let (mut w0, mut sum0, mut best, mut best_i) = (0.0, 0.0, -1.0, 0);
    for (i, &c) in hist.iter().enumerate() {
        w0 += c;
        sum0 += i as f64 * c;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let d = sum0 / w0 - (sum_all - sum0) / w1;
        let between = w0 * w1 * d * d;
        if between > best {
            best = between;
            best_i = i;
        }
    }
    lo + (best_i + 1) as f32 * width
}

/// Subtracts from each pixel of an ink-bright image the paper level under it: per block (about 16
/// blocks along the longer side) the 30th percentile, then the minimum over the 3×3 neighbouring
/// blocks (a block full of ink takes its neighbours' paper), bilinearly interpolated between block
/// centres.
pub(super) fn subtract_background(v: &mut [f32], w: usize, h: usize) {
    let block = w.max(h).div_ceil(16).max(8);
    let (gw, gh) = (w.div_ceil(block), h.div_ceil(block));
    let mut grid = vec![0f32; gw * gh];
    let mut buf = Vec::with_capacity(block * block);
    for gy in 0..gh {
        for gx in 0..gw {
            buf.clear();
            for y in gy * block..((gy + 1) * block).min(h) {
                buf.extend_from_slice(&v[y * w + gx * block..y * w + ((gx + 1) * block).min(w)]);
            }
            grid[gy * gw + gx] = percentile(&mut buf, 0.3);
        }
    }
    let mut low = grid.clone();
    for gy in 0..gh {
        for gx in 0..gw {
            let mut m = f32::INFINITY;
            for ny in gy.saturating_sub(1)..=(gy + 1).min(gh - 1) {
                for nx in gx.saturating_sub(1)..=(gx + 1).min(gw - 1) {
                    m = m.min(grid[ny * gw + nx]);
                }
            }
            low[gy * gw + gx] = m;
        }
    }
    let coord = |p: usize, n: usize| {
        let g = ((p as f32 + 0.5) / block as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        let i = (g.floor() as usize).min(n - 1);
        (i, (i + 1).min(n - 1), g - i as f32)
    };
    let columns: Vec<(usize, usize, f32)> = (0..w).map(|x| coord(x, gw)).collect();
    for y in 0..h {
        let (y0, y1, fy) = coord(y, gh);
        for (x, &(x0, x1, fx)) in columns.iter().enumerate() {
            let top = low[y0 * gw + x0] * (1.0 - fx) + low[y0 * gw + x1] * fx;
            let bottom = low[y1 * gw + x0] * (1.0 - fx) + low[y1 * gw + x1] * fx;
            v[y * w + x] -= top * (1.0 - fy) + bottom * fy;
        }
    }
}

/// Keeps the pieces (8-connected) of `mask` that make up the digit: the largest, and every piece
/// at least 5% of its size (and a few pixels) that lies within one digit size of it.
pub(super) fn keep_digit_components(mask: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut label = vec![0u32; w * h];
    // (area, x0, y0, x1, y1) per component; label k is index k − 1.
    let mut comps: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        let id = comps.len() as u32 + 1;
        let mut c = (0, usize::MAX, usize::MAX, 0, 0);
        label[start] = id;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (x, y) = (p % w, p / w);
            c = (c.0 + 1, c.1.min(x), c.2.min(y), c.3.max(x), c.4.max(y));
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let q = ny * w + nx;
                    if mask[q] && label[q] == 0 {
                        label[q] = id;
                        stack.push(q);
                    }
                }
            }
        }
        comps.push(c);
    }
    let min_area = 4 + (w * h) / 20_000;
    let Some((big, &(area, bx0, by0, bx1, by1))) = comps.iter().enumerate().max_by_key(|(_, c)| c.0) else {
        return vec![false; w * h];
    };
    if area < min_area {
        return vec![false; w * h];
    }
    let reach = (bx1 - bx0).max(by1 - by0) + 1;
    let keep: Vec<bool> = comps
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let near = c.1 <= bx1 + reach && c.3 + reach >= bx0 && c.2 <= by1 + reach && c.4 + reach >= by0;
            i == big || (c.0 * 20 >= area && c.0 >= min_area && near)
        })
        .collect();
    label.iter().map(|&l| l != 0 && keep[l as usize - 1]).collect()
}

/// (x0, y0, x1, y1), inclusive, of the set pixels; `None` when none are.
pub(super) fn bounding_box(mask: &[bool], w: usize, h: usize) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for y in 0..h {
        for x in 0..w {
            if mask[y * w + x] {
                b = Some(match b {
                    None => (x, y, x, y),
                    Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                });
            }
        }
    }
    b
}

/// The set pixels grown by `r` in every direction (a square structuring element).
pub(super) fn dilate(mask: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let as_f: Vec<f32> = mask.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
    dilate_values(&as_f, w, h, r).iter().map(|&v| v > 0.0).collect()
}

/// Each value (≥ 0) replaced by the maximum within `r` pixels (square window, 0 beyond the edges):
/// rows by van Herk and Gil-Werman's running maxima (three comparisons a pixel whatever `r`), then
/// columns as the maximum of whole rows.
pub(super) fn dilate_values(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    let mut scratch = RunningMax::new(w, r);
    for (src, dst) in v.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        scratch.apply(src, dst);
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let dst = &mut out[y * w..(y + 1) * w];
        for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
            for (o, &x) in dst.iter_mut().zip(&rows[yy * w..(yy + 1) * w]) {
                *o = o.max(x);
            }
        }
    }
    out
}

/// The maximum over the window `[x − r, x + r]` of a row, 0 outside it: the row padded with `r`
/// zeros on both sides and cut into blocks of `2r + 1`; the window's maximum is the larger of the
/// running maximum from its start to the end of its block and from the next block's start to its
/// end.
struct RunningMax {
    r: usize,
    /// Running maxima forwards (from each block's start) and backwards (from each block's end).
    forward: Vec<f32>,
    backward: Vec<f32>,
}

impl RunningMax {
    fn new(n: usize, r: usize) -> Self {
        let padded = n + 2 * r;
        Self { r, forward: vec![0.0; padded], backward: vec![0.0; padded] }
    }

    fn apply(&mut self, src: &[f32], dst: &mut [f32]) {
        let (r, k) = (self.r, 2 * self.r + 1);
        let n = src.len();
        let at = |i: usize| if i >= r && i < r + n { src[i - r] } else { 0.0 };
        let padded = self.forward.len();
        for start in (0..padded).step_by(k) {
            let end = (start + k).min(padded);
            let mut m = 0f32;
            for i in start..end {
                m = m.max(at(i));
                self.forward[i] = m;
            }
            let mut m = 0f32;
            for i in (start..end).rev() {
                m = m.max(at(i));
                self.backward[i] = m;
            }
        }
        // Output x covers padded positions x ..= x + 2r.
        for (x, d) in dst.iter_mut().enumerate() {
            *d = self.backward[x].max(self.forward[x + 2 * r]);
        }
    }
}

/// Mean stroke width of the set pixels: area over half the boundary length (a stroke of width `s`
/// and length `L` has area `sL` and about `2L` boundary pixels).
pub(super) fn stroke_width(mask: &[bool], w: usize, h: usize) -> f64 {
    let (mut area, mut edge) = (0usize, 0usize);
    for y in 0..h {
        for x in 0..w {
            if !mask[y * w + x] {
                continue;
            }
            area += 1;
            let outside = |dx: isize, dy: isize| {
                let (nx, ny) = (x as isize + dx, y as isize + dy);
                nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize || !mask[ny as usize * w + nx as usize]
            };
            if outside(1, 0) || outside(-1, 0) || outside(0, 1) || outside(0, -1) {
                edge += 1;
            }
        }
    }
    if edge == 0 { 0.0 } else { 2.0 * area as f64 / edge as f64 }
}

/// Resamples a `sw`×`sh` image to `dw`×`dh` with an area filter: each output pixel is the mean of
/// the input area it covers (fractional pixels weighted by coverage), columns then rows.
pub fn resample_area(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    let weights = |s: usize, d: usize| -> Vec<Vec<(usize, f32)>> {
        let ratio = s as f64 / d as f64;
        (0..d)
            .map(|o| {
                let (a, b) = (o as f64 * ratio, (o + 1) as f64 * ratio);
                let mut ws = Vec::new();
                let mut i = a.floor() as usize;
                while (i as f64) < b && i < s {
                    let cover = (b.min(i as f64 + 1.0) - a.max(i as f64)) / ratio;
                    if cover > 0.0 {
                        ws.push((i, cover as f32));
                    }
                    i += 1;
                }
                ws
            })
            .collect()
    };
    let (wx, wy) = (weights(sw, dw), weights(sh, dh));
    let mut tmp = vec![0f32; dw * sh];
    for y in 0..sh {
        for (ox, ws) in wx.iter().enumerate() {
            tmp[y * dw + ox] = ws.iter().map(|&(i, c)| src[y * sw + i] * c).sum();
        }
    }
    let mut out = vec![0f32; dw * dh];
    for (oy, ws) in wy.iter().enumerate() {
        for x in 0..dw {
            out[oy * dw + x] = ws.iter().map(|&(i, c)| tmp[i * dw + x] * c).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_resampling_keeps_the_mean() {
        let src: Vec<f32> = (0..37 * 23).map(|i| (i % 11) as f32 * 20.0).collect();
        let out = resample_area(&src, 37, 23, 20, 13);
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert!((mean(&src) - mean(&out)).abs() < 0.5);
        assert_eq!(resample_area(&[7.0; 16], 4, 4, 2, 2), vec![7.0; 4]);
        assert_eq!(resample_area(&[0.0, 10.0, 20.0, 30.0], 4, 1, 2, 1), vec![5.0, 25.0]);
    }

    #[test]
    fn otsu_splits_two_levels() {
        let v: Vec<f32> = (0..100).map(|i| if i < 70 { 200.0 } else { 20.0 }).collect();
        let t = otsu_threshold(&v);
        assert!(t > 20.0 && t <= 200.0, "{t}");
    }

    #[test]
    fn percentiles_by_selection_are_those_of_the_sorted_values() {
        let v: Vec<f32> = (0..1001).map(|i| ((i * 7919) % 1009) as f32 * 0.37 - 40.0).collect();
        let mut sorted = v.clone();
        sorted.sort_by(f32::total_cmp);
        for q in [0.0, 0.002, 0.3, 0.5, 0.95, 0.998, 1.0, 0.4999] {
            let pos = q * 1000.0;
            let (i, frac) = (f64::floor(pos) as usize, (pos - f64::floor(pos)) as f32);
            let want = sorted[i] + (sorted[(i + 1).min(1000)] - sorted[i]) * frac;
            assert_eq!(percentile(&mut v.clone(), q).to_bits(), want.to_bits(), "q = {q}");
        }
        assert_eq!(percentile(&mut [], 0.5), 0.0);
        assert_eq!(percentile(&mut [3.0], 0.9), 3.0);
    }

    #[test]
    fn percentiles_in_two_passes_are_those_of_the_sorted_values() {
        // Whole levels with many repeats (a photo), and spread-out fractions.
        let levels: Vec<f32> =
            (0..5000).map(|i| if i % 10 == 0 { (i % 60) as f32 } else { (200 + i % 20) as f32 }).collect();
        let fractions: Vec<f32> = (0..1001).map(|i| ((i * 7919) % 1009) as f32 * 0.37 - 40.0).collect();
        for v in [levels, fractions, vec![5.0; 7], vec![1.0, -2.0]] {
            let qs = [0.0, 0.002, 0.3, 0.5, 0.95, 0.998, 1.0];
            let got = percentiles(&v, qs);
            for (q, g) in qs.iter().zip(got) {
                assert_eq!(g.to_bits(), percentile(&mut v.clone(), *q).to_bits(), "q = {q}");
            }
        }
        assert_eq!(percentiles(&[], [0.5]), [0.0]);
    }

    #[test]
    fn dilation_by_running_maxima_is_the_window_maximum() {
        let (w, h) = (23, 17);
        let v: Vec<f32> = (0..w * h).map(|i| if (i * 7919) % 13 < 2 { ((i * 31) % 255) as f32 } else { 0.0 }).collect();
        for r in [0, 1, 2, 5, 11, 30] {
            let got = dilate_values(&v, w, h, r);
            for y in 0..h {
                for x in 0..w {
                    let mut m = 0f32;
                    for yy in y.saturating_sub(r)..=(y + r).min(h - 1) {
                        for xx in x.saturating_sub(r)..=(x + r).min(w - 1) {
                            m = m.max(v[yy * w + xx]);
                        }
                    }
                    assert_eq!(got[y * w + x], m, "r {r} at ({x}, {y})");
                }
            }
        }
    }
}
