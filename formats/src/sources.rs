//! Tables of format version 3 that events do not refer to: what each
//! source file held when it was recorded, and marks (named points of the
//! trace, such as the start of each test of a recorded pytest run).

use crate::model::StrId;

/// What a source file held when it was recorded, so that a report made
/// later (on another machine, after edits) can tell which lines changed.
/// Digests are CRC-32 (IEEE, as zlib's `crc32`): a check for edits, not a
/// security measure.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct SourceDesc {
    /// The file name, as code locations name it.
    pub file: StrId,
    /// Size of the file in bytes.
    pub size: u64,
    /// CRC-32 of the whole file.
    pub digest: u32,
    /// CRC-32 of each line, without its line ending; line `n` is
    /// `lines[n - 1]`.
    pub lines: Vec<u32>,
}

/// A named point of the trace: `label` holds from event `at_event` on
/// (until the next mark). A pytest run recorded as one trace marks the
/// start of each test with `test NODE_ID`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct Mark {
    pub label: StrId,
    /// Index of the first event the mark applies to (= the number of
    /// events written before it).
    pub at_event: u64,
}

/// Splits file contents into lines as Python's `str.splitlines` does for
/// source code (`\n`, `\r\n`, `\r`), and returns the CRC-32 of each, without
/// its line ending: what [`SourceDesc::lines`] holds.
pub fn line_digests(contents: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < contents.len() {
        match contents[i] {
            b'\n' => {
                out.push(crc32fast::hash(&contents[start..i]));
                start = i + 1;
            }
            b'\r' => {
                out.push(crc32fast::hash(&contents[start..i]));
                if contents.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < contents.len() {
        out.push(crc32fast::hash(&contents[start..]));
    }
    out
}

impl SourceDesc {
    /// The description of a file's contents.
    pub fn of_contents(file: StrId, contents: &[u8]) -> SourceDesc {
        SourceDesc {
            file,
            size: contents.len() as u64,
            digest: crc32fast::hash(contents),
            lines: line_digests(contents),
        }
    }
}
