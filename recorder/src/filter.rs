//! Which code is traced: decided from the code object's file name, once per
//! code object (the answer is cached in the code's decoded table).
//!
//! Order of precedence: an `exclude` pattern wins over everything, an
//! `include` pattern wins over the default exclusions, and by default the
//! standard library, site-packages/dist-packages, racetrace itself and frozen
//! modules are not traced.

/// Glob patterns as in `fnmatch`: `*` matches any run of characters
/// (including `/`), `?` one character, `[abc]`/`[!abc]` a set.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`; returns
/// (matched, index after the class), or `None` if the class is unterminated.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && p[i] == '!';
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (first || p[i] != ']') {
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= p.len() {
        return None;
    }
    Some((matched != negate, i + 1))
}

/// The filter of one recording.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Directory prefixes excluded by default (stdlib, racetrace itself).
    pub default_excluded_dirs: Vec<String>,
}

impl Filter {
    /// Whether code from `file` (a code object's `co_filename`, which may be
    /// relative: the main script as it was named on the command line) is
    /// traced. Patterns are tried on the name as given and on its absolute
    /// form, so `*/mylib/*` also matches `mylib/x.py`.
    pub fn traces(&self, file: &str) -> bool {
        let absolute = if file.starts_with('<') {
            None
        } else {
            std::path::absolute(file)
                .ok()
                .and_then(|p| p.to_str().map(str::to_owned))
                .filter(|p| p != file)
        };
        let names = || std::iter::once(file).chain(absolute.as_deref());
        let matches =
            |patterns: &[String]| patterns.iter().any(|p| names().any(|n| glob_match(p, n)));
        if matches(&self.exclude) {
            return false;
        }
        if matches(&self.include) {
            return true;
        }
        !names().any(|n| self.excluded_by_default(n))
    }

    /// Whether the lock operations of `file`, when it is not traced, are
    /// still recorded. Include and exclude patterns narrow which accesses
    /// are recorded, never which synchronization is: a lock taken in an
    /// excluded module or a third-party library may be what orders the
    /// program's accesses. The standard library (whose primitives that
    /// order user code are recognized by role: `threading`, `queue`,
    /// `concurrent.futures`) and racetrace itself are left out, so that
    /// their internal locks cost nothing.
    pub fn watches_sync(&self, file: &str) -> bool {
        if file.starts_with('<') {
            return false;
        }
        if file.contains("/site-packages/") || file.contains("/dist-packages/") {
            return true;
        }
        !self.default_excluded_dirs.iter().any(|dir| {
            !dir.is_empty()
                && file.starts_with(dir.as_str())
                && file[dir.len()..].starts_with(['/', std::path::MAIN_SEPARATOR])
        })
    }

    fn excluded_by_default(&self, file: &str) -> bool {
        if file.starts_with("<frozen") {
            return true;
        }
        if file.contains("/site-packages/") || file.contains("/dist-packages/") {
            return true;
        }
        self.default_excluded_dirs.iter().any(|dir| {
            !dir.is_empty()
                && file.starts_with(dir.as_str())
                && file[dir.len()..].starts_with(['/', std::path::MAIN_SEPARATOR])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*/mylib/*", "/x/site-packages/mylib/a.py"));
        assert!(!glob_match("*/mylib/*", "/x/other/a.py"));
        assert!(glob_match("*.py", "a/b.py"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("[ab]x", "bx"));
        assert!(!glob_match("[!ab]x", "bx"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", ""));
    }

    #[test]
    fn precedence() {
        let f = Filter {
            include: vec!["*/mylib/*".into()],
            exclude: vec!["*/generated/*".into()],
            default_excluded_dirs: vec!["/usr/lib/python3.11".into()],
        };
        assert!(f.traces("/home/u/app.py"));
        assert!(!f.traces("/usr/lib/python3.11/threading.py"));
        assert!(!f.traces("/v/lib/site-packages/other/x.py"));
        assert!(f.traces("/v/lib/site-packages/mylib/x.py"));
        assert!(!f.traces("/home/u/generated/x.py"));
        assert!(!f.traces("/v/site-packages/mylib/generated/x.py"));
        assert!(!f.traces("<frozen importlib._bootstrap>"));
        assert!(f.traces("<string>"));
    }

    #[test]
    fn synchronization_is_watched_beyond_the_traced_files() {
        let f = Filter {
            include: vec![],
            exclude: vec!["*/generated/*".into()],
            default_excluded_dirs: vec!["/usr/lib/python3.11".into()],
        };
        // Excluded by the user, or third-party: its locks still count.
        assert!(f.watches_sync("/home/u/generated/x.py"));
        assert!(f.watches_sync("/usr/lib/python3.11/site-packages/lib/x.py"));
        // The standard library and generated code objects: not watched.
        assert!(!f.watches_sync("/usr/lib/python3.11/logging/__init__.py"));
        assert!(!f.watches_sync("<frozen importlib._bootstrap>"));
        assert!(!f.watches_sync("<string>"));
    }

    #[test]
    fn relative_names_match_through_their_absolute_form() {
        let f = Filter {
            include: vec![],
            exclude: vec!["*/generated/*".into()],
            default_excluded_dirs: vec![],
        };
        assert!(!f.traces("generated/x.py"));
        assert!(f.traces("app.py"));
    }
}
