//! How `explain` lays its text out: headings, lines and formulas in plain text or Markdown (with
//! LaTeX), and the article's printed values beside the true ones.

use super::formula::{DIGITS, latex_value};
use neuralnet::article::{self, Check};
use neuralnet::plot::Lang;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The output being written, and what it is written with.
pub struct Renderer<'a> {
    /// The text so far.
    pub out: String,
    /// The language of the explanations.
    pub lang: Lang,
    /// Markdown (with LaTeX formulas) rather than plain text.
    pub md: bool,
    /// The article's printed values by id, for the article's own example (else empty).
    pub checks: HashMap<String, &'a Check>,
}

impl Renderer<'_> {
    /// A section heading.
    pub fn heading(&mut self, h: &str) {
        if self.md {
            let _ = writeln!(self.out, "\n### {h}\n");
        } else {
            let _ = writeln!(self.out, "\n{h}\n{}", "─".repeat(h.chars().count().min(60)));
        }
    }

    /// One line of a section.
    pub fn line(&mut self, s: &str) {
        if self.md {
            let _ = writeln!(self.out, "- {s}");
        } else {
            let _ = writeln!(self.out, "  {s}");
        }
    }

    /// A formula, with numbers substituted, and its value; in Markdown as LaTeX.
    pub fn formula(&mut self, lhs: &str, symbolic: &str, substituted: Option<&str>, value: &str, latex: &str) {
        if self.md {
            let _ = writeln!(self.out, "$$ {latex} = {} $$", latex_value(value));
            if let Some(s) = substituted {
                let _ = writeln!(self.out, "\n({s})\n");
            }
            return;
        }
        let mut s = format!("  {lhs} = {symbolic}");
        if let Some(sub) = substituted {
            s += &format!("\n  {} = {sub}", " ".repeat(lhs.chars().count()));
        }
        s += &format!("\n  {} = {value}", " ".repeat(lhs.chars().count()));
        let _ = writeln!(self.out, "{s}");
    }

    /// The article's printed value beside the true one, flagged when it is wrong.
    pub fn article(&mut self, id: &str) {
        let Some(c) = self.checks.get(id).copied() else { return };
        // Each printed entry as printed, marked ✗ where it is off by more than its precision.
        let art = format!(
            "[{}]",
            c.article
                .iter()
                .zip(&c.decimals)
                .zip(&c.wrong)
                .map(|((v, &d), &w)| format!("{v:.*}{}", d as usize, if w { " ✗" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut s = format!("{} ({}): {art}", self.lang.pick("article", "原文"), c.section);
        if c.truncated.iter().any(|&x| x) {
            s += &format!(" ({})", self.lang.pick("cut off, not rounded", "截断而非四舍五入"));
        }
        if c.is_wrong() {
            s += &format!("; {} {}", self.lang.pick("true value", "真实值"), DIGITS.vector(&c.true_value));
            if c.new_slip.iter().any(|&x| x) {
                s += &format!(
                    "; {} {} — {}",
                    self.lang.pick("its own earlier numbers give", "由原文前面的数字算得"),
                    DIGITS.vector(&c.from_article_inputs),
                    self.lang.pick("a new slip here", "此处出现新的错误")
                );
            } else {
                s += &format!(" — {}", self.lang.pick("carried forward from an earlier slip", "沿用了前面的错误"));
            }
        } else {
            s += &format!("  ✓ {}", self.lang.pick("within its printed precision", "在其印刷精度内正确"));
        }
        if self.md {
            let _ = writeln!(self.out, "> {s}\n");
        } else {
            let _ = writeln!(self.out, "    ↳ {s}");
        }
    }

    /// Closing section for the article's example: how many printed values are wrong, and why.
    pub fn article_notes(&mut self) {
        let lang = self.lang;
        let wrong = self.checks.values().filter(|c| c.is_wrong()).count();
        self.heading(lang.pick("Where the article's numbers go wrong", "原文数字的错误"));
        self.line(&format!(
            "{wrong} {} {} {}",
            lang.pick("of", "/"),
            self.checks.len(),
            lang.pick(
                "printed quantities differ from the true values by more than their printed precision.",
                "个印刷的量与真实值之差超过了其印刷精度。"
            )
        ));
        for (en, zh) in article::notes() {
            self.line(lang.pick(en, zh));
        }
    }
}
