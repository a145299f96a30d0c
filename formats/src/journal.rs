//! A schedule journal: the schedule of the execution in progress, kept in a
//! memory-mapped file so that it survives the process writing it. A worker
//! process that crashes mid-execution (a segfault in a C extension,
//! `os._exit`) leaves behind which execution it was running and the steps
//! chosen so far, the step that crashed included; whoever started it reads
//! them back with [`read_journal`].
//!
//! Layout (little-endian): magic `RTJ1`, `u32` number of steps, `u64`
//! execution number (counted from 1 by [`ScheduleJournal::begin_execution`]),
//! then one `u32` actor id per step, up to the capacity the file was made
//! with. Steps past the capacity are not recorded (the reader says so).

use std::fs::OpenOptions;
use std::path::Path;

use crate::{ActorId, Schedule};

const MAGIC: &[u8; 4] = b"RTJ1";
const HEADER: usize = 16;

/// The writing side (one per process).
pub struct ScheduleJournal {
    map: memmap2::MmapMut,
    capacity: usize,
    execution: u64,
}

/// What a journal says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// The execution in progress (from 1; 0: none began).
    pub execution: u64,
    /// Its steps so far (the last one may be the step in progress).
    pub schedule: Schedule,
    /// More steps were taken than the journal holds.
    pub truncated: bool,
}

impl ScheduleJournal {
    /// Creates (or empties) the journal file at `path`, with room for
    /// `capacity` steps.
    pub fn create(path: &Path, capacity: usize) -> std::io::Result<ScheduleJournal> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.set_len((HEADER + 4 * capacity) as u64)?;
        // SAFETY: the file was just sized by us and nothing truncates it
        // while it is mapped (the reader only reads it, with plain file
        // reads); writes are plain stores into the shared mapping.
        let mut map = unsafe { memmap2::MmapMut::map_mut(&file)? };
        map[..4].copy_from_slice(MAGIC);
        Ok(ScheduleJournal {
            map,
            capacity,
            execution: 0,
        })
    }

    /// A new execution begins: no steps yet.
    pub fn begin_execution(&mut self) {
        self.execution += 1;
        self.map[4..8].copy_from_slice(&0u32.to_le_bytes());
        self.map[8..16].copy_from_slice(&self.execution.to_le_bytes());
    }

    /// Step `step` is taken by `actor` (steps are set in order; setting one
    /// again replaces it and forgets those after it).
    pub fn set(&mut self, step: u64, actor: ActorId) {
        let Ok(i) = usize::try_from(step) else {
            return;
        };
        if i < self.capacity {
            let at = HEADER + 4 * i;
            self.map[at..at + 4].copy_from_slice(&actor.0.to_le_bytes());
        }
        // The count last, so that a reader never sees a step not written.
        let len = u32::try_from(i + 1).unwrap_or(u32::MAX);
        self.map[4..8].copy_from_slice(&len.to_le_bytes());
    }
}

/// Reads a journal file; `None` if it is missing or not a journal.
pub fn read_journal(path: &Path) -> Option<JournalEntry> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(bytes[4..8].try_into().ok()?) as usize;
    let execution = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    let capacity = (bytes.len() - HEADER) / 4;
    let steps = (0..len.min(capacity))
        .map(|i| {
            let at = HEADER + 4 * i;
            ActorId(u32::from_le_bytes([
                bytes[at],
                bytes[at + 1],
                bytes[at + 2],
                bytes[at + 3],
            ]))
        })
        .collect();
    Some(JournalEntry {
        execution,
        schedule: Schedule::new(steps),
        truncated: len > capacity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_reads_back_what_was_written_and_bad_files_are_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j");
        let mut j = ScheduleJournal::create(&path, 3).expect("create");
        assert_eq!(read_journal(&path).map(|e| e.execution), Some(0));
        j.begin_execution();
        j.begin_execution();
        for (i, a) in [0u32, 1, 1, 2].iter().enumerate() {
            j.set(i as u64, ActorId(*a));
        }
        let e = read_journal(&path).expect("journal");
        assert_eq!(e.execution, 2);
        assert_eq!(e.schedule.to_text(), "rts1:0,1*2");
        assert!(e.truncated);
        j.set(1, ActorId(2));
        let e = read_journal(&path).expect("journal");
        assert_eq!(e.schedule.to_text(), "rts1:0,2");
        assert!(!e.truncated);
        std::fs::write(&path, b"not a journal").expect("write");
        assert_eq!(read_journal(&path), None);
        assert_eq!(read_journal(&dir.path().join("missing")), None);
    }
}
