//! How to reproduce a recorded run: the commands, from what the trace's
//! header says ran.
//!
//! The header's `program` is a command line the replay understands:
//! `script.py ARGS`, `-m module ARGS`, `pytest ARGS` (a whole pytest run),
//! or `pytest-node NODE_ID ...` (one test, recorded by the pytest plugin).
//! The name of the replay script `racetrace script` writes by default
//! follows the same rules as the Python side (`script_cli.py`).

use serde::Serialize;

/// The commands that reproduce the run, shell-quoted.
#[derive(Clone, Debug, Serialize)]
pub struct Reproduce {
    /// Whether the trace names a program `racetrace replay` can re-run.
    pub replayable: bool,
    pub replay: String,
    pub script: String,
    /// The file `racetrace script` writes by default.
    pub script_path: String,
    pub shrink: String,
    /// For a trace that names no program: what to do instead.
    pub note: Option<String>,
    /// The pytest test the trace is of (`pytest-node` programs).
    #[serde(skip)]
    pub test: Option<String>,
}

fn quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| s.to_string())
}

/// Keeps letters, digits and `_`, as a Python identifier-ish file stem.
fn sanitize(stem: &str) -> String {
    stem.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn file_stem(path: &str) -> String {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    base.rsplit_once('.')
        .map(|(s, _)| s)
        .unwrap_or(base)
        .to_string()
}

/// The stem of a test node id: its last `::` part.
fn node_stem(node: &str) -> String {
    match node.rsplit_once("::") {
        Some((_, name)) => name.to_string(),
        None => file_stem(node),
    }
}

impl Reproduce {
    pub fn of(program: &str, trace_arg: &str) -> Reproduce {
        let words = shlex::split(program).unwrap_or_default();
        let first = words.first().map(String::as_str).unwrap_or("");
        let mut test = None;
        let stem = match first {
            "pytest-node" => {
                let node = words.get(1).cloned().unwrap_or_default();
                test = Some(node.clone());
                Some(node_stem(&node))
            }
            "pytest" => Some(
                words[1..]
                    .iter()
                    .find(|w| w.contains("::") || w.ends_with(".py"))
                    .map(|n| node_stem(n))
                    .unwrap_or_else(|| "pytest".to_string()),
            ),
            "-m" => words
                .get(1)
                .map(|m| m.rsplit('.').next().unwrap_or(m).to_string()),
            f if f.ends_with(".py") => Some(file_stem(f)),
            _ => None,
        };
        let t = quote(trace_arg);
        match stem {
            Some(stem) => {
                let script_path = format!("repro_{}.py", sanitize(&stem));
                Reproduce {
                    replayable: true,
                    replay: format!("racetrace replay {t}"),
                    script: format!("racetrace script {t} -o {script_path}"),
                    script_path,
                    shrink: format!("racetrace shrink {t}"),
                    note: None,
                    test,
                }
            }
            None => Reproduce {
                replayable: false,
                replay: format!("racetrace replay {t} -- script.py ARGS"),
                script: String::new(),
                script_path: String::new(),
                shrink: format!("racetrace shrink {t} -- script.py ARGS"),
                note: Some(format!(
                    "the trace does not name a script or a test to re-run (program: {program:?}): give the program after --"
                )),
                test,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_follow_the_program() {
        let r = Reproduce::of("examples/lost_update.py 3", "t.rtrace");
        assert_eq!(r.script_path, "repro_lost_update.py");
        assert_eq!(r.replay, "racetrace replay t.rtrace");
        let r = Reproduce::of(
            "pytest-node '/p/tests/test_c.py::test_n[a b]'",
            "x y.rtrace",
        );
        assert_eq!(r.script_path, "repro_test_n_a_b_.py");
        assert_eq!(r.replay, "racetrace replay 'x y.rtrace'");
        assert_eq!(r.test.as_deref(), Some("/p/tests/test_c.py::test_n[a b]"));
        let r = Reproduce::of("pytest /p/tests/test_c.py -k x", "t");
        assert_eq!(r.script_path, "repro_test_c.py");
        let r = Reproduce::of("-m pkg.tool --flag", "t");
        assert_eq!(r.script_path, "repro_tool.py");
        let r = Reproduce::of("main", "t");
        assert!(!r.replayable);
    }
}
