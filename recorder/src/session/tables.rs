//! What a recording recognizes (the same for every run of a process), and
//! the key of a session's configuration under which the code tables built
//! for one run serve the next.
//!
//! Building a code object's table (`hook::tables::build_info`) reads its
//! names from Python, matches its file against the include and exclude
//! patterns and decodes its bytecode. An exploration runs the same code
//! thousands of times with the same configuration: a table keeps what
//! depends only on the configuration (`CodeInfo::config`), and the next
//! run's table is made from it with fresh ids and caches.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;

use crate::calls::CallTable;
use crate::codeinfo::CodeRoles;

/// The recognized callables and code objects, the directories not traced
/// by default, the `threading`/`queue` files and racetrace's own directory,
/// built once from `racetrace.config.Recognized` (`py::setup`).
pub struct StaticTables {
    /// Distinct for each set of tables built in this process.
    pub serial: u64,
    pub excluded_dirs: Vec<String>,
    pub calls: CallTable,
    /// Code objects of recognized standard-library functions.
    pub code_roles: CodeRoles,
    /// Files of the `threading` and `queue` modules.
    pub sync_lib_files: HashSet<String>,
    pub own_dir: String,
    /// The objects the tables name by address, kept alive with them (held,
    /// never read).
    #[allow(dead_code)]
    pub keep_alive: Vec<Py<PyAny>>,
}

/// The configuration key of the session in progress (0: none).
static CONFIG: AtomicU64 = AtomicU64::new(0);

/// What a code table depends on besides the code object: the tables, the
/// patterns, whether the run is controlled, and the working directory
/// (relative file names are matched in their absolute form). Never 0.
pub(super) fn config_key(
    tables: &StaticTables,
    include: &[String],
    exclude: &[String],
    controlled: bool,
) -> u64 {
    let mut h = DefaultHasher::new();
    tables.serial.hash(&mut h);
    include.hash(&mut h);
    exclude.hash(&mut h);
    controlled.hash(&mut h);
    std::env::current_dir().ok().hash(&mut h);
    h.finish() | 1
}

pub(super) fn set_config(key: u64) {
    CONFIG.store(key, Ordering::Release);
}

/// The configuration key of the session in progress: a code table made
/// under the same key keeps its configuration-dependent parts.
#[inline]
pub fn config() -> u64 {
    CONFIG.load(Ordering::Acquire)
}
