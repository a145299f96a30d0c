//! How the run ended, read for what it says about *where*: the frames of
//! the exception's traceback (the failing line last), or the places a
//! deadlock report names. Explaining ranks findings by these lines.

use racetrace_formats::{Outcome, Tables, TraceFile};
use serde::Serialize;

/// One place the failure names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub file: String,
    pub line: u32,
    pub function: String,
}

impl Frame {
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The outcome, with the places it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// `ok`, `exception`, `deadlock`, `aborted`, or `unknown` (a truncated
    /// trace has no footer, so no outcome).
    pub kind: &'static str,
    /// The actor the exception escaped (`T0 (MainThread)`), if any.
    pub actor: Option<String>,
    pub type_name: String,
    pub message: String,
    /// The traceback as Python printed it (without the frames above the
    /// first one in recorded code: a test runner's, say), or the deadlock
    /// report.
    pub text: String,
    /// The frames of the traceback, outermost first (for a deadlock: the
    /// places its report names, in order).
    pub frames: Vec<Frame>,
    /// The failing line: the innermost frame in code the trace recorded
    /// (the last frame may be inside the standard library).
    pub failing: Option<Frame>,
}

impl Failure {
    /// Whether the run failed (an exception or a deadlock; an aborted run,
    /// such as a test stopped by a timeout, counts too).
    pub fn failed(&self) -> bool {
        matches!(self.kind, "exception" | "deadlock" | "aborted")
    }

    pub fn of(trace: &TraceFile) -> Failure {
        let tables = trace.tables();
        let mut f = Failure {
            kind: "unknown",
            actor: None,
            type_name: String::new(),
            message: String::new(),
            text: String::new(),
            frames: Vec::new(),
            failing: None,
        };
        match trace.outcome() {
            None => {}
            Some(Outcome::Ok) => f.kind = "ok",
            Some(Outcome::Exception {
                actor,
                type_name,
                message,
                traceback,
            }) => {
                f.kind = "exception";
                f.actor = Some(tables.actor_display(*actor));
                f.type_name = type_name.clone();
                f.message = message.clone();
                f.text = trim_traceback(traceback, |file| recorded_name(tables, file).is_some());
                f.frames = traceback_frames(traceback);
            }
            Some(Outcome::Deadlock { description }) => {
                f.kind = "deadlock";
                f.text = description.clone();
                f.frames = named_places(description);
            }
            Some(Outcome::Aborted { reason }) => {
                f.kind = "aborted";
                f.message = reason.clone();
                f.text = reason.clone();
                f.frames = named_places(reason);
            }
        }
        // The innermost frame in recorded code, named as the trace names
        // its file (so that its source is found where the others are).
        f.failing = f
            .frames
            .iter()
            .rev()
            .find_map(|fr| recorded_name(tables, &fr.file).map(|file| Frame { file, ..fr.clone() }))
            .or_else(|| f.frames.last().cloned());
        f
    }
}

/// The traceback without the frames of the code that called the program
/// (a test runner, racetrace's own wrappers): it keeps the innermost run
/// of consecutive frames in recorded code that ends at the last recorded
/// frame (and whatever follows it), with a line saying how many frames
/// were left out. Unchanged when no frame is in recorded code.
pub fn trim_traceback(text: &str, recorded: impl Fn(&str) -> bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let frame_file = |l: &str| {
        l.strip_prefix("  File \"")
            .and_then(|r| r.split_once('"'))
            .map(|(f, _)| f.to_string())
    };
    // (line index, recorded?) of each frame.
    let frames: Vec<(usize, bool)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| frame_file(l).map(|f| (i, recorded(&f))))
        .collect();
    let Some(last) = frames.iter().rposition(|&(_, r)| r) else {
        return text.to_string();
    };
    let mut keep = last;
    while keep > 0 && frames[keep - 1].1 {
        keep -= 1;
    }
    if keep == 0 {
        return text.to_string();
    }
    let first = frames[0].0;
    let mut out: Vec<String> = lines[..first].iter().map(|l| l.to_string()).collect();
    out.push(format!(
        "  ... {keep} frame{} of the code that called the program left out",
        if keep == 1 { "" } else { "s" }
    ));
    out.extend(lines[frames[keep].0..].iter().map(|l| l.to_string()));
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The trace's name for `file`, if some code location of the trace is in
/// it.
fn recorded_name(tables: &Tables, file: &str) -> Option<String> {
    tables
        .locs
        .iter()
        .map(|l| tables.str(l.file))
        .find(|name| same_file(name, file))
        .map(str::to_string)
}

/// Whether two file names name the same file: equal, or one is the other
/// with a directory prefix (a traceback may name a file absolutely where
/// the code location has the path the script was run with).
pub fn same_file(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    !short.is_empty()
        && long.ends_with(short)
        && long[..long.len() - short.len()].ends_with(['/', '\\'])
}

/// The `File "x.py", line 12, in f` lines of a Python traceback, in order.
/// Chained exceptions (`During handling of ...`) contribute their frames
/// too; the last frame is where the final exception was raised.
pub fn traceback_frames(text: &str) -> Vec<Frame> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix("File \"") else {
            continue;
        };
        let Some((file, rest)) = rest.split_once("\", line ") else {
            continue;
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(line_no) = digits.parse::<u32>() else {
            continue;
        };
        let function = rest
            .split_once(", in ")
            .map(|(_, f)| f.trim().to_string())
            .unwrap_or_default();
        out.push(Frame {
            file: file.to_string(),
            line: line_no,
            function,
        });
    }
    out
}

/// The `at FILE:LINE` places a deadlock or stop report names, in order.
pub fn named_places(text: &str) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::new();
    for piece in text.split(" at ").skip(1) {
        let word = piece.split_whitespace().next().unwrap_or("");
        let word = word.trim_end_matches([',', ')', ';', '.']);
        let Some((file, line)) = word.rsplit_once(':') else {
            continue;
        };
        let Ok(line) = line.parse::<u32>() else {
            continue;
        };
        let frame = Frame {
            file: file.to_string(),
            line,
            function: String::new(),
        };
        if !out.contains(&frame) {
            out.push(frame);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_a_traceback() {
        let tb = "Traceback (most recent call last):\n  File \"/p/test_x.py\", line 12, in test_x\n    assert c.value == 2\nAssertionError: assert 1 == 2\n";
        let f = traceback_frames(tb);
        assert_eq!(
            f,
            [Frame {
                file: "/p/test_x.py".into(),
                line: 12,
                function: "test_x".into()
            }]
        );
    }

    #[test]
    fn places_of_a_deadlock_report() {
        let d = "every live actor is blocked\n  T1 (a) waits at x.py:18 for lock `b`; b is held by T2 (b), acquired at x.py:24\n";
        let f = named_places(d);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].location(), "x.py:18");
        assert_eq!(f[1].location(), "x.py:24");
    }

    #[test]
    fn traceback_is_trimmed_to_recorded_code() {
        let tb = "Traceback (most recent call last):\n  File \"/lib/runner.py\", line 5, in run\n    call()\n  File \"/lib/runner.py\", line 9, in call\n    f()\n  File \"/p/t.py\", line 3, in f\n    assert x\nAssertionError\n";
        let t = trim_traceback(tb, |f| f == "/p/t.py");
        assert_eq!(t, "Traceback (most recent call last):\n  ... 2 frames of the code that called the program left out\n  File \"/p/t.py\", line 3, in f\n    assert x\nAssertionError\n");
        assert_eq!(trim_traceback(tb, |_| false), tb);
        // A recorded frame far outside (a wrapper whose file has code
        // locations too) does not bring back the runner's frames.
        let tb2 = tb.replacen("/lib/runner.py\", line 5", "/p/wrap.py\", line 5", 1);
        let t = trim_traceback(&tb2, |f| f == "/p/t.py" || f == "/p/wrap.py");
        assert!(t.contains("  ... 2 frames of the code"), "{t}");
        assert!(!t.contains("wrap.py"), "{t}");
    }

    #[test]
    fn same_file_by_suffix() {
        assert!(same_file("/a/b/x.py", "b/x.py"));
        assert!(same_file("x.py", "x.py"));
        assert!(!same_file("/a/bx.py", "x.py"));
    }
}
