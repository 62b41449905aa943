//! The article's notation as text: numbers written short, vectors, subscripts, one entry of a
//! layer (`δ₁₂`), and the language the words around them are in. Figures (`plot`) and the
//! command line's teaching output (`explain`, `neuron`) all write their numbers here.

/// The language of titles, labels and explanations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Chinese. In a figure only the SVG is Chinese: the PNG keeps English, as its embedded font
    /// has no Chinese glyphs.
    Zh,
}

impl Lang {
    /// The string for this language: `en` or `zh`.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// How many digits a number is written with. Either way trailing zeros (and a trailing point)
/// are trimmed, and a number that rounds to zero is written `0`, never `-0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digits {
    /// This many significant digits `d`, with at most `d + 6` places after the point, so that
    /// tiny numbers lose digits and then read `0` (figures: 4, `explain`: 6).
    Significant(u32),
    /// This many places after the point (`neuron`: 6).
    Decimals(u32),
}

impl Digits {
    /// `x` written with these digits: `0.5717`, `-1235`, `0.29`, `0`.
    pub fn num(self, x: f64) -> String {
        if x == 0.0 || !x.is_finite() {
            return if x.is_finite() { "0".into() } else { format!("{x}") };
        }
        let places = match self {
            Digits::Significant(d) => {
                let d = d as i32;
                (d - 1 - x.abs().log10().floor() as i32).clamp(0, d + 6) as usize
            }
            Digits::Decimals(p) => p as usize,
        };
        let s = format!("{x:.places$}");
        let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
        if s == "-0" { "0".into() } else { s.to_string() }
    }

    /// `[a, b, …]`, every entry written with these digits.
    pub fn vector(self, v: &[f64]) -> String {
        self.vector_upto(v, v.len())
    }

    /// `[a, b, …]` with at most `max` entries, then `… (N values)` when `v` has more.
    pub fn vector_upto(self, v: &[f64], max: usize) -> String {
        let mut parts: Vec<String> = v.iter().take(max).map(|&x| self.num(x)).collect();
        if v.len() > max {
            parts.push(format!("… ({} values)", v.len()));
        }
        format!("[{}]", parts.join(", "))
    }
}

/// `n` in subscript digits: `12` → `₁₂`.
pub fn subscript(n: usize) -> String {
    const D: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    n.to_string().chars().map(|c| D[c.to_digit(10).unwrap_or(0) as usize]).collect()
}

/// Entry `j` (from 0) of `sym` in layer `layer` of width `width`, as the article writes it: `δ₁₂`
/// (layer 1, entry 2), or just `a₂` when the layer has a single entry.
pub fn component(sym: &str, layer: usize, j: usize, width: usize) -> String {
    if width == 1 {
        format!("{sym}{}", subscript(layer))
    } else {
        format!("{sym}{}{}", subscript(layer), subscript(j + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formatters `plot` (4 digits) and `explain` (6) had before they met here, and `neuron`'s.
    fn old_plot(x: f64) -> String {
        if x == 0.0 || !x.is_finite() {
            return if x.is_finite() { "0".into() } else { format!("{x}") };
        }
        let digits = (4 - 1 - x.abs().log10().floor() as i32).clamp(0, 10) as usize;
        let s = format!("{x:.digits$}");
        let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
        if s == "-0" { "0".into() } else { s }
    }

    fn old_explain(x: f64) -> String {
        if x == 0.0 {
            return "0".into();
        }
        let digits = (6 - 1 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
        let s = format!("{x:.digits$}");
        let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
        if s == "-0" { "0".into() } else { s }
    }

    fn old_neuron(x: f64) -> String {
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" { "0".into() } else { s.into() }
    }

    #[test]
    fn numbers_are_short() {
        let n = Digits::Significant(4);
        assert_eq!(n.num(0.571_682_5), "0.5717");
        assert_eq!(n.num(0.29), "0.29");
        assert_eq!(n.num(-1234.6), "-1235");
        assert_eq!(n.num(0.0), "0");
        assert_eq!(n.num(-1e-300), "0");
        assert_eq!(Digits::Decimals(6).num(-1e-9), "0");
    }

    #[test]
    fn every_earlier_formatter_is_kept_to_the_byte() {
        let mut xs = vec![0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MAX, f64::MIN_POSITIVE];
        for e in -320..=310 {
            for m in [1.0, 1.234_567_89, 5.0, 9.999_95, 9.999_999_9, 4.5] {
                let x = m * 10f64.powi(e);
                xs.extend([x, -x]);
            }
        }
        let mut s = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            xs.push(f64::from_bits(s));
            xs.push((s >> 11) as f64 / (1u64 << 53) as f64 * 200.0 - 100.0);
        }
        for x in xs {
            assert_eq!(Digits::Significant(4).num(x), old_plot(x), "{x:e}");
            assert_eq!(Digits::Significant(6).num(x), old_explain(x), "{x:e}");
            assert_eq!(Digits::Decimals(6).num(x), old_neuron(x), "{x:e}");
        }
    }

    #[test]
    fn vectors_subscripts_and_components() {
        let n = Digits::Significant(4);
        assert_eq!(n.vector(&[0.5, -2.0]), "[0.5, -2]");
        assert_eq!(n.vector_upto(&[1.0, 2.0, 3.0], 2), "[1, 2, … (3 values)]");
        assert_eq!(subscript(120), "₁₂₀");
        assert_eq!(component("δ", 1, 1, 2), "δ₁₂");
        assert_eq!(component("a", 2, 0, 1), "a₂");
    }
}
