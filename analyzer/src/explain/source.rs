//! Source lines for a report, read from the files the trace names, and
//! whether they changed since the trace was recorded (against the digests
//! a version 3 trace holds for each file).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use racetrace_formats::{line_digests, SourceDesc, TraceFile};
use serde::Serialize;

/// What became of one source file since recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// Same contents as when recorded.
    Unchanged,
    /// Edited since: lines whose digest differs are marked.
    Changed,
    /// Cannot be read here (another machine, deleted).
    Missing,
    /// Readable, but the trace holds no digest of it (a trace of format
    /// version 1 or 2, or a file unreadable when recording).
    NotRecorded,
}

impl FileStatus {
    pub fn words(self) -> &'static str {
        match self {
            FileStatus::Unchanged => "unchanged since recording",
            FileStatus::Changed => "CHANGED since recording (changed lines are marked)",
            FileStatus::Missing => "not found here (no source lines shown)",
            FileStatus::NotRecorded => {
                "the trace holds no digest of it (changes cannot be detected)"
            }
        }
    }
}

struct Loaded {
    /// Lines as read now (`None`: missing).
    lines: Option<Vec<String>>,
    /// Digest of each line as recorded.
    recorded: Option<Vec<u32>>,
    now: Option<Vec<u32>>,
    status: FileStatus,
}

/// Source files of one trace, read lazily, each once.
pub struct Sources<'a> {
    trace: &'a TraceFile,
    /// Directory of the trace file: a relative path that does not resolve
    /// from the current directory is tried from there.
    base: Option<PathBuf>,
    files: HashMap<String, Loaded>,
}

impl<'a> Sources<'a> {
    pub fn new(trace: &'a TraceFile) -> Self {
        let base = Path::new(trace.path()).parent().map(Path::to_path_buf);
        Sources {
            trace,
            base,
            files: HashMap::new(),
        }
    }

    fn recorded(&self, file: &str) -> Option<&SourceDesc> {
        let tables = self.trace.tables();
        self.trace
            .sources()
            .iter()
            .find(|s| tables.str(s.file) == file)
    }

    fn load(&mut self, file: &str) -> &Loaded {
        if !self.files.contains_key(file) {
            let mut bytes = std::fs::read(file).ok();
            if bytes.is_none() && Path::new(file).is_relative() {
                if let Some(b) = &self.base {
                    bytes = std::fs::read(b.join(file)).ok();
                }
            }
            let desc = self.recorded(file).cloned();
            let status = match (&bytes, &desc) {
                (None, _) => FileStatus::Missing,
                (Some(_), None) => FileStatus::NotRecorded,
                (Some(b), Some(d)) => {
                    if crc32fast::hash(b) == d.digest && b.len() as u64 == d.size {
                        FileStatus::Unchanged
                    } else {
                        FileStatus::Changed
                    }
                }
            };
            let now = bytes.as_deref().map(line_digests);
            let lines = bytes.map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .collect()
            });
            self.files.insert(
                file.to_string(),
                Loaded {
                    lines,
                    recorded: desc.map(|d| d.lines),
                    now,
                    status,
                },
            );
        }
        &self.files[file]
    }

    /// The line (1-based) as it reads now, and whether it changed since
    /// recording.
    pub fn line(&mut self, file: &str, line: u32) -> (Option<String>, bool) {
        if line == 0 {
            return (None, false);
        }
        let l = self.load(file);
        let i = line as usize - 1;
        let text = l.lines.as_ref().and_then(|ls| ls.get(i)).cloned();
        let changed = l.status == FileStatus::Changed
            && match (&l.recorded, &l.now) {
                (Some(r), Some(n)) => r.get(i) != n.get(i),
                _ => true,
            };
        (text, changed)
    }

    /// Lines `from..=to` that exist now, each with its number and whether
    /// it changed.
    pub fn snippet(&mut self, file: &str, from: u32, to: u32) -> Vec<(u32, String, bool)> {
        (from.max(1)..=to)
            .filter_map(|n| {
                let (text, changed) = self.line(file, n);
                text.map(|t| (n, t, changed))
            })
            .collect()
    }

    pub fn status(&mut self, file: &str) -> FileStatus {
        self.load(file).status
    }

    /// Every file looked at so far, with its status, sorted by name.
    pub fn statuses(&self) -> Vec<(String, FileStatus)> {
        let mut v: Vec<(String, FileStatus)> = self
            .files
            .iter()
            .map(|(f, l)| (f.clone(), l.status))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}
