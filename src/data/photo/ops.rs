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

/// Otsu's threshold: the level that maximises the between-class variance of the two sides (over
/// a 256-bin histogram of the values' range).
pub(super) fn otsu_threshold(values: &[f32]) -> f32 {
    let lo = values.iter().copied().min_by(f32::total_cmp).unwrap_or(0.0);
    let hi = values.iter().copied().max_by(f32::total_cmp).unwrap_or(0.0);
    if hi - lo < 1e-6 {
        return hi;
    }
    let bins = 256;
    let width = (hi - lo) / bins as f32;
    let mut hist = vec![0f64; bins];
    for &x in values {
        hist[(((x - lo) / width) as usize).min(bins - 1)] += 1.0;
    }
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

/// The paper level under each pixel of an ink-bright image: per block (about 16 blocks along the
/// longer side) the 30th percentile, then the minimum over the 3×3 neighbouring blocks (a block full
/// of ink takes its neighbours' paper), bilinearly interpolated between block centres.
pub(super) fn background_map(v: &[f32], w: usize, h: usize) -> Vec<f32> {
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
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (y0, y1, fy) = coord(y, gh);
        for x in 0..w {
            let (x0, x1, fx) = coord(x, gw);
            let top = low[y0 * gw + x0] * (1.0 - fx) + low[y0 * gw + x1] * fx;
            let bottom = low[y1 * gw + x0] * (1.0 - fx) + low[y1 * gw + x1] * fx;
            out[y * w + x] = top * (1.0 - fy) + bottom * fy;
        }
    }
    out
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

/// Each value replaced by the maximum within `r` pixels (square window), rows then columns.
pub(super) fn dilate_values(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            rows[y * w + x] = v[y * w + a..=y * w + b].iter().copied().fold(0.0, f32::max);
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (a..=b).map(|yy| rows[yy * w + x]).fold(0.0, f32::max);
        }
    }
    out
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
}
