//! The house rule: no two source files use each other, directly or through others.
//!
//! This reads `src/` as text (no compiler), finds every path that names another file of the same
//! crate — `crate::…`, `super::…`, `self::…`, `$crate::…` and a declared child module's name —
//! outside `#[cfg(test)]` items, resolves it to the deepest file it reaches, and fails on any cycle
//! in that graph, naming it. A folder's `mod.rs` is a file like the rest: a path that stops at the
//! folder (`crate::data::Thing`) is a use of `data/mod.rs`. `mod x;` declarations are not uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path from the crate root and the child modules it declares.
struct ModFile {
    path: PathBuf,
    module: Vec<String>,
    children: Vec<String>,
    code: String,
}

/// The code with comments, string and character literals blanked out (lengths kept).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (i == 0 || !is_ident(b[i - 1]) || (b[i - 1] == 'b' && (i < 2 || !is_ident(b[i - 2]))))
            && (next == Some('"') || (next == Some('#') && raw_string_start(&b, i + 1)))
        {
            // r"…" or r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a): only the former is skipped.
            if next == Some('\\') {
                i += 2;
                while i < b.len() && b[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn raw_string_start(b: &[char], mut j: usize) -> bool {
    while j < b.len() && b[j] == '#' {
        j += 1;
    }
    b.get(j) == Some(&'"')
}

/// The code without `#[cfg(test)]` items (the attribute and the item after it).
fn without_test_items(code: &str) -> String {
    let b: Vec<char> = code.chars().collect();
    let text: String = b.iter().collect();
    let mut out = String::new();
    let mut i = 0;
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    while i < b.len() {
        if b[i..].starts_with(&marker) {
            i += marker.len();
            // Skip further attributes, then the item: up to a `;` at depth 0 or a balanced `{…}`.
            let mut depth = 0i32;
            while i < b.len() {
                match b[i] {
                    '{' | '(' | '[' => depth += 1,
                    '}' | ')' | ']' => {
                        depth -= 1;
                        if depth == 0 && b[i] == '}' {
                            i += 1;
                            break;
                        }
                    }
                    ';' if depth == 0 => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    let _ = text;
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The `mod name;` declarations of a file (not inline `mod name { … }` blocks).
fn declared_children(code: &str) -> Vec<String> {
    let toks = tokens(code);
    let mut out = Vec::new();
    for w in toks.windows(3) {
        if w[0] == "mod" && w[2] == ";" && w[1].chars().all(is_ident) {
            out.push(w[1].clone());
        }
    }
    out
}

/// Identifiers, `::` and single punctuation characters.
fn tokens(code: &str) -> Vec<String> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '$' && b.get(i + 1).is_some_and(|&n| is_ident_start(n)) {
            let s = i;
            i += 1;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            out.push(b[s..i].iter().collect());
        } else if is_ident_start(c) {
            let s = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            out.push(b[s..i].iter().collect());
        } else if c.is_ascii_digit() {
            while i < b.len() && (is_ident(b[i]) || b[i] == '.') {
                i += 1;
            }
            out.push("0".into());
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// Every path in the token stream that starts at a root this file can name: `crate`, `$crate`,
/// `super`, `self` or a child module, expanded through `{…}` groups. Each is returned as segments.
fn paths(toks: &[String], children: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].as_str();
        let prev_is_sep = i > 0 && toks[i - 1] == "::";
        let root = matches!(t, "crate" | "$crate" | "super" | "self") || children.iter().any(|c| c == t);
        if root && !prev_is_sep && toks.get(i + 1).is_some_and(|n| n == "::") {
            let mut segs = vec![if t == "$crate" { "crate".to_string() } else { t.to_string() }];
            i += 1;
            parse_rest(toks, &mut i, &mut segs, &mut out);
        } else {
            i += 1;
        }
    }
    out
}

/// Continue a path after its first segments: `:: ident`, `:: *`, `:: { tree, … }`.
fn parse_rest(toks: &[String], i: &mut usize, segs: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    while *i < toks.len() && toks[*i] == "::" {
        *i += 1;
        match toks.get(*i).map(String::as_str) {
            Some("{") => {
                *i += 1;
                loop {
                    match toks.get(*i).map(String::as_str) {
                        None => return,
                        Some("}") => {
                            *i += 1;
                            return;
                        }
                        Some(",") => *i += 1,
                        Some("self") => {
                            out.push(segs.clone());
                            *i += 1;
                        }
                        Some("*") => {
                            out.push(segs.clone());
                            *i += 1;
                        }
                        Some(t) if t.chars().next().is_some_and(is_ident_start) => {
                            let mut inner = segs.clone();
                            inner.push(t.to_string());
                            *i += 1;
                            let before = out.len();
                            parse_rest(toks, i, &mut inner, out);
                            if out.len() == before {
                                out.push(inner);
                            }
                            // Skip `as alias` and anything else up to the next `,` or `}`.
                            while let Some(t) = toks.get(*i) {
                                if t == "," || t == "}" {
                                    break;
                                }
                                *i += 1;
                            }
                        }
                        Some(_) => *i += 1,
                    }
                }
            }
            Some("*") => {
                *i += 1;
                break;
            }
            Some(t) if t.chars().next().is_some_and(is_ident_start) => {
                segs.push(t.to_string());
                *i += 1;
            }
            _ => break,
        }
    }
    out.push(segs.clone());
}

/// Walks a crate from its root file, following `mod x;` declarations.
fn load_crate(root: &Path, files: &mut Vec<ModFile>) {
    let mut todo = vec![(root.to_path_buf(), Vec::<String>::new())];
    while let Some((path, module)) = todo.pop() {
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let code = without_test_items(&strip(&raw));
        let children = declared_children(&code);
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let dir = if module.is_empty() || stem == "mod" {
            path.parent().unwrap().to_path_buf()
        } else {
            path.parent().unwrap().join(&stem)
        };
        for c in &children {
            let flat = dir.join(format!("{c}.rs"));
            let nested = dir.join(c).join("mod.rs");
            let file = if flat.exists() { flat } else { nested };
            assert!(file.exists(), "{} declares mod {c} but {} does not exist", path.display(), file.display());
            let mut m = module.clone();
            m.push(c.clone());
            todo.push((file, m));
        }
        files.push(ModFile { path, module, children, code });
    }
}

/// Resolves a path to the deepest file it reaches, as an index into `files`.
fn resolve(
    files: &[ModFile],
    by_module: &BTreeMap<Vec<String>, usize>,
    from: &ModFile,
    segs: &[String],
) -> Option<usize> {
    let mut module = from.module.clone();
    let mut rest = segs;
    match segs[0].as_str() {
        "crate" => {
            module.clear();
            rest = &segs[1..];
        }
        "self" => rest = &segs[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                module.pop()?;
                rest = &rest[1..];
            }
            if rest.first().is_some_and(|s| s == "self") {
                rest = &rest[1..];
            }
        }
        _ => {} // a child module: relative to this file
    }
    let mut found = *by_module.get(&module)?;
    for s in rest {
        module.push(s.clone());
        match by_module.get(&module) {
            Some(&f) => found = f,
            None => break,
        }
    }
    let _ = files;
    Some(found)
}

/// File → the files it uses, for one crate rooted at `root`.
fn graph(root: &Path) -> (Vec<String>, Vec<BTreeSet<usize>>) {
    let mut files = Vec::new();
    load_crate(root, &mut files);
    let by_module: BTreeMap<Vec<String>, usize> =
        files.iter().enumerate().map(|(i, f)| (f.module.clone(), i)).collect();
    let base = root.parent().unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.path.strip_prefix(base.parent().unwrap_or(base)).unwrap_or(&f.path).display().to_string())
        .collect();
    let mut edges = vec![BTreeSet::new(); files.len()];
    for (i, f) in files.iter().enumerate() {
        for p in paths(&tokens(&f.code), &f.children) {
            if let Some(j) = resolve(&files, &by_module, f, &p)
                && j != i
            {
                edges[i].insert(j);
            }
        }
    }
    (names, edges)
}

/// Every cycle's files, one per strongly connected component of more than one file, as a path that
/// starts and ends at the same file.
fn cycles(edges: &[BTreeSet<usize>]) -> Vec<(Vec<usize>, Vec<usize>)> {
    // Tarjan's strongly connected components.
    struct S<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        comps: Vec<Vec<usize>>,
    }
    fn visit(s: &mut S, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on[v] = true;
        for &w in s.edges[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on[w] => s.low[v] = s.low[v].min(iw),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.comps.push(comp);
            }
        }
    }
    let n = edges.len();
    let mut s =
        S { edges, index: vec![None; n], low: vec![0; n], on: vec![false; n], stack: vec![], next: 0, comps: vec![] };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    // In each component, the shortest cycle through its first file (breadth-first search).
    s.comps
        .iter()
        .map(|comp| {
            let set: BTreeSet<usize> = comp.iter().copied().collect();
            let start = *comp.iter().min().unwrap();
            let mut prev = vec![usize::MAX; n];
            let mut queue = std::collections::VecDeque::from([start]);
            let mut seen = BTreeSet::from([start]);
            let mut end = None;
            'bfs: while let Some(v) = queue.pop_front() {
                for &w in &edges[v] {
                    if w == start {
                        end = Some(v);
                        break 'bfs;
                    }
                    if set.contains(&w) && seen.insert(w) {
                        prev[w] = v;
                        queue.push_back(w);
                    }
                }
            }
            let mut path = vec![start];
            let mut v = end.unwrap();
            while v != start {
                path.push(v);
                v = prev[v];
            }
            path.push(start);
            let last = path.len() - 1;
            path[1..last].reverse();
            let mut comp = comp.clone();
            comp.sort();
            (comp, path)
        })
        .collect()
}

/// The cycles of the crate rooted at `root`, each written `a → b → a` (with the component's size).
fn describe_cycles(root: &Path) -> Vec<String> {
    let (names, edges) = graph(root);
    cycles(&edges)
        .iter()
        .map(|(comp, c)| {
            let cycle = c.iter().map(|&i| names[i].as_str()).collect::<Vec<_>>().join(" → ");
            if comp.len() + 1 == c.len() {
                return cycle;
            }
            // The whole circle: each of its files and the files of the circle it uses.
            let uses: Vec<String> = comp
                .iter()
                .map(|&i| {
                    let inside: Vec<&str> =
                        edges[i].iter().filter(|j| comp.contains(j)).map(|&j| names[j].as_str()).collect();
                    format!("      {} uses {}", names[i], inside.join(", "))
                })
                .collect();
            format!("{cycle}\n    (one of the cycles among {} files:\n{})", comp.len(), uses.join("\n"))
        })
        .collect()
}

#[test]
fn library_and_binary_have_no_module_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for root in ["lib.rs", "main.rs"] {
        found.extend(describe_cycles(&src.join(root)));
    }
    assert!(
        found.is_empty(),
        "source files that use each other (move what they share to a file below both):\n  {}",
        found.join("\n  ")
    );
}

/// Writes a tiny crate into a temporary directory.
fn tiny_crate(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join("src").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

#[test]
fn the_checker_finds_cycles_through_every_kind_of_path() {
    // crate:: paths, a use-tree group, super::, a child path from mod.rs, a macro's $crate.
    let cases: &[&[(&str, &str)]] = &[
        &[("lib.rs", "mod a; mod b;"), ("a.rs", "use crate::b::X;"), ("b.rs", "pub fn f() { crate::a::g() }")],
        &[("lib.rs", "mod a; mod b;"), ("a.rs", "use crate::{b::{X, Y as Z}};"), ("b.rs", "use crate::a;")],
        &[("lib.rs", "pub mod d;"), ("d/mod.rs", "mod e; pub struct T; pub use e::U;"), ("d/e.rs", "use super::T;")],
        &[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "macro_rules! m { () => { $crate::b::f() } }"),
            ("b.rs", "use crate::a::*;"),
        ],
        &[("lib.rs", "mod a; pub struct R; pub use a::f;"), ("a.rs", "pub fn f() -> crate::R { todo!() }")],
    ];
    for files in cases {
        let dir = tiny_crate(files);
        let found = describe_cycles(&dir.path().join("src/lib.rs"));
        assert_eq!(found.len(), 1, "{files:?}: {found:?}");
    }
}

#[test]
fn the_checker_ignores_comments_strings_tests_and_one_way_uses() {
    let dir = tiny_crate(&[
        ("lib.rs", "mod a; mod b;\n/// see crate::b::X\n"),
        ("a.rs", "use crate::b::X; const S: &str = \"crate::b\";"),
        (
            "b.rs",
            "pub struct X; // crate::a::f\n/* crate::a::g */ const C: char = 'a';\nfn h<'a>(x: &'a str) {}\n\
             #[cfg(test)]\nmod tests { use crate::a::*; }\n#[cfg(test)]\nuse crate::a::f;\n\
             const R: &str = r#\"crate::a\"#;",
        ),
    ]);
    let found = describe_cycles(&dir.path().join("src/lib.rs"));
    assert!(found.is_empty(), "{found:?}");
}
