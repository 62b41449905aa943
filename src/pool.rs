//! 2×2 max pooling, stride 2, on a batch of feature maps (batch × C × H × W). An odd height or
//! width is floored (the last row or column is dropped), as PyTorch's `MaxPool2d(2)` does.
//!
//! Forward: `a[c,i,j] = max(x[c,2i,2j], x[c,2i,2j+1], x[c,2i+1,2j], x[c,2i+1,2j+1])`.
//!
//! Backward: pooling has no parameters and no `f`; each output's δ goes to the input position that
//! won its window (the first in row-major order on ties), every other position gets 0. The layer
//! below then multiplies by its `f′(z)` as usual.

use crate::conv::Maps;
use crate::kernels::Float;

/// Side of the pooling window (and its stride).
pub const POOL: usize = 2;

/// A 2×2 max pooling over maps of shape `input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    /// The input's shape (one sample).
    pub input: Maps,
}

impl MaxPool2d {
    /// Pooling over `input`, which must be at least 2×2.
    pub fn new(input: Maps) -> crate::error::Result<Self> {
        if input.height < POOL || input.width < POOL || input.channels == 0 {
            return Err(crate::error::Error::InvalidValue {
                what: "pooling".into(),
                message: format!("2×2 pooling needs maps of at least 2×2, got {input}"),
            });
        }
        Ok(Self { input })
    }

    /// The output's shape: `C × ⌊H/2⌋ × ⌊W/2⌋`.
    pub fn output(&self) -> Maps {
        Maps::new(self.input.channels, self.input.height / POOL, self.input.width / POOL)
    }

    /// `a = max over each window`, and in `winner` the index (within its sample) of the input that
    /// won each output, for [`Self::backward`]. `x` is batch × C×H×W, `a` and `winner` batch ×
    /// C×⌊H/2⌋×⌊W/2⌋.
    pub fn forward<T: Float>(&self, x: &[T], batch: usize, a: &mut [T], winner: &mut [u32]) {
        let (inp, out) = (self.input, self.output());
        for n in 0..batch {
            let xs = &x[n * inp.len()..(n + 1) * inp.len()];
            let (as_, ws) =
                (&mut a[n * out.len()..(n + 1) * out.len()], &mut winner[n * out.len()..(n + 1) * out.len()]);
            for c in 0..out.channels {
                for i in 0..out.height {
                    let top = (c * inp.height + POOL * i) * inp.width;
                    let (t, b) = (&xs[top..top + inp.width], &xs[top + inp.width..top + 2 * inp.width]);
                    let at = (c * out.height + i) * out.width;
                    let (ar, wr) = (&mut as_[at..at + out.width], &mut ws[at..at + out.width]);
                    for (j, ((av, wv), (tp, bp))) in
                        ar.iter_mut().zip(wr.iter_mut()).zip(t.chunks_exact(2).zip(b.chunks_exact(2))).enumerate()
                    {
                        // The first in row-major order wins a tie: only a strictly larger value moves it.
                        let (mut best, mut off) = (tp[0], 0);
                        if tp[1] > best {
                            (best, off) = (tp[1], 1);
                        }
                        if bp[0] > best {
                            (best, off) = (bp[0], inp.width);
                        }
                        if bp[1] > best {
                            (best, off) = (bp[1], inp.width + 1);
                        }
                        *av = best;
                        *wv = (top + 2 * j + off) as u32;
                    }
                }
            }
        }
    }

    /// `∂L/∂x`: each output's `delta` routed to its window's winner, zero elsewhere (written over
    /// `grad_x`, batch × C×H×W).
    pub fn backward<T: Float>(&self, delta: &[T], winner: &[u32], batch: usize, grad_x: &mut [T]) {
        let (inp, out) = (self.input, self.output());
        grad_x[..batch * inp.len()].iter_mut().for_each(|g| *g = T::zero());
        for n in 0..batch {
            let gs = &mut grad_x[n * inp.len()..(n + 1) * inp.len()];
            for (&d, &w) in delta[n * out.len()..(n + 1) * out.len()].iter().zip(&winner[n * out.len()..]) {
                gs[w as usize] += d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_are_floored_and_the_maximum_wins() {
        let p = MaxPool2d::new(Maps::new(2, 5, 3)).unwrap();
        assert_eq!(p.output(), Maps::new(2, 2, 1));
        let x: Vec<f64> = (0..30).map(|i| ((i * 7) % 11) as f64).collect();
        let (mut a, mut w) = (vec![0.0; 4], vec![0u32; 4]);
        p.forward(&x, 1, &mut a, &mut w);
        // Channel 0, window rows 0–1, columns 0–1: x[0], x[1], x[3], x[4] = 0, 7, 10, 6.
        assert_eq!((a[0], w[0]), (10.0, 3));
        for (k, &wi) in w.iter().enumerate() {
            assert_eq!(x[wi as usize], a[k]);
        }
        assert!(MaxPool2d::new(Maps::new(1, 1, 4)).is_err());
    }

    #[test]
    fn gradients_match_finite_differences_away_from_ties() {
        // L = Σ r ⊙ pool(x); distinct inputs, so no window is tied.
        for (maps, batch) in [(Maps::new(1, 4, 4), 1), (Maps::new(3, 5, 6), 3), (Maps::new(2, 7, 7), 3)] {
            let p = MaxPool2d::new(maps).unwrap();
            let n_in = batch * maps.len();
            let x: Vec<f64> = (0..n_in).map(|i| ((i * 7919) % 1009) as f64 / 1009.0).collect();
            let out = batch * p.output().len();
            let r: Vec<f64> = (0..out).map(|i| ((i * 31) % 17) as f64 / 17.0 - 0.5).collect();
            let loss = |x: &[f64]| {
                let (mut a, mut w) = (vec![0.0; out], vec![0u32; out]);
                p.forward(x, batch, &mut a, &mut w);
                a.iter().zip(&r).map(|(a, r)| a * r).sum::<f64>()
            };
            let (mut a, mut w) = (vec![0.0; out], vec![0u32; out]);
            p.forward(&x, batch, &mut a, &mut w);
            let mut g = vec![7.0; n_in];
            p.backward(&r, &w, batch, &mut g);
            let h = 1e-7;
            for i in 0..n_in {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let numeric = (loss(&xp) - loss(&xm)) / (2.0 * h);
                assert!(
                    (g[i] - numeric).abs() <= 1e-6 * numeric.abs().max(1e-3),
                    "{maps} input {i}: {} vs {numeric}",
                    g[i]
                );
            }
        }
    }
}
