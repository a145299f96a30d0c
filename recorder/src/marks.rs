//! The lines marked `# racetrace: NAME` of a controlled run with a marker
//! schedule: which (file, line) carries which marker id, as the Python
//! layer found them by scanning the sources (`racetrace.markers`), and the
//! marking of a code object's table with them (once per code object, when
//! its table is built; never on the per-instruction path).

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::prelude::*;

use crate::codeinfo::Instr;

/// Marked lines by file, for one session (its generation).
struct Marked {
    generation: u64,
    by_file: HashMap<String, Vec<(u32, u32)>>,
}

static MARKED: Mutex<Option<Marked>> = Mutex::new(None);

/// The marked lines of the session `generation`: (file, line, marker id).
pub fn set(generation: u64, lines: Vec<(String, u32, u32)>) {
    let mut by_file: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
    for (file, line, id) in lines {
        by_file.entry(file).or_default().push((line, id));
    }
    *MARKED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Marked {
        generation,
        by_file,
    });
}

/// The marked lines of `file` in the session `generation` (line, id).
fn lines_of(generation: u64, file: &str) -> Vec<(u32, u32)> {
    let g = MARKED.lock().unwrap_or_else(|e| e.into_inner());
    match g.as_ref() {
        Some(m) if m.generation == generation => m.by_file.get(file).cloned().unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Marks the first instruction of each marked line of `code` in its table.
/// A line is entered where one of its ranges in `co_lines()` begins after
/// a range of another line (a statement split by a call, whose ranges
/// follow one another, is one entry; a loop's body entered again is a new
/// one each time).
pub fn mark(code: &Bound<'_, PyAny>, file: &str, generation: u64, instrs: &mut [Instr]) {
    let lines = lines_of(generation, file);
    if lines.is_empty() {
        return;
    }
    let Ok(ranges) = code.call_method0("co_lines") else {
        return;
    };
    let Ok(iter) = ranges.try_iter() else { return };
    let mut previous: Option<u32> = None;
    for r in iter.flatten() {
        let Ok((start, _end, line)) = r.extract::<(usize, usize, Option<u32>)>() else {
            continue;
        };
        // Instructions of no line (artificial ones) do not end a line.
        let Some(line) = line else { continue };
        if previous != Some(line) {
            if let Some(&(_, id)) = lines.iter().find(|(l, _)| *l == line) {
                // Code units are two bytes.
                if let Some(ins) = instrs.get_mut(start / 2) {
                    ins.marker = id + 1;
                }
            }
        }
        previous = Some(line);
    }
}
