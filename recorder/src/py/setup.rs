//! What starting a recording and starting a controlled run have in common:
//! the trace header, the tables of recognized callables and code objects,
//! and the "unknown" ids every trace begins with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use racetrace_formats::{CodeLoc, Header, Mode, StrId};

use crate::calls::{CallRole, CallTable};
use crate::codeinfo::{CodeRoles, Role};
use crate::cpython;
use crate::session::{self, StaticTables};

/// `racetrace.config.Recognized`: what the native side recognizes, the same
/// for every run of a process.
#[derive(FromPyObject)]
struct Recognized<'py> {
    excluded_dirs: Vec<String>,
    code_roles: Vec<(Bound<'py, PyAny>, String)>,
    calls: Vec<(Bound<'py, PyAny>, String)>,
    sync_lib_files: Vec<String>,
    own_dir: String,
}

/// The last `Recognized` object seen and the tables built from it: the
/// Python layer makes one per process and hands it to every run, so a run
/// of an exploration reuses the tables (and the code tables built with
/// them, see `session::config_key`) instead of building them again.
static LAST: Mutex<Option<(Py<PyAny>, Arc<StaticTables>)>> = Mutex::new(None);

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// The tables of `recognized` (a frozen `racetrace.config.Recognized`),
/// built on first sight of that object.
pub fn static_tables(recognized: &Bound<'_, PyAny>) -> PyResult<Arc<StaticTables>> {
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((obj, tables)) = last.as_ref() {
        if obj.bind(recognized.py()).is(recognized) {
            return Ok(tables.clone());
        }
    }
    let r: Recognized<'_> = recognized.extract()?;
    let (calls, code_roles, keep_alive) = call_tables(&r.calls, &r.code_roles);
    let tables = Arc::new(StaticTables {
        serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
        excluded_dirs: r.excluded_dirs,
        calls,
        code_roles,
        sync_lib_files: r.sync_lib_files.into_iter().collect(),
        own_dir: r.own_dir,
        keep_alive,
    });
    *last = Some((recognized.clone().unbind(), tables.clone()));
    Ok(tables)
}

/// The recognized callables and code objects, keyed as the hook looks
/// them up (kept alive for the session).
fn call_tables(
    calls: &[(Bound<'_, PyAny>, String)],
    code_roles: &[(Bound<'_, PyAny>, String)],
) -> (CallTable, CodeRoles, Vec<Py<PyAny>>) {
    let mut keep_alive = Vec::new();
    let mut table = CallTable::default();
    for (callable, role) in calls {
        let Some(role) = CallRole::from_name(role) else {
            continue;
        };
        match cpython::builtin_method(callable) {
            Some((def, _)) => table.by_method_def.insert(def, role),
            None => table.by_identity.insert(callable.as_ptr() as usize, role),
        };
        keep_alive.push(callable.clone().unbind());
    }
    let roles = code_role_table(code_roles, &mut keep_alive);
    (table, roles, keep_alive)
}

/// The recognized functions by code object and by definition site; entries
/// whose role name is unknown are skipped (the Python layer and this crate
/// are built together, so it would be a bug of ours, not of the user).
fn code_role_table(
    code_roles: &[(Bound<'_, PyAny>, String)],
    keep_alive: &mut Vec<Py<PyAny>>,
) -> CodeRoles {
    let mut roles = CodeRoles::default();
    for (code, role) in code_roles {
        let role = Role::from_name(role);
        if role == Role::None || !cpython::is_code(code) {
            continue;
        }
        let text = |name: &str| -> String {
            code.getattr(name)
                .and_then(|v| v.extract())
                .unwrap_or_default()
        };
        let line: u32 = code
            .getattr("co_firstlineno")
            .and_then(|v| v.extract())
            .unwrap_or(0);
        let addr = code.as_ptr() as usize;
        roles.insert(addr, text("co_filename"), text("co_qualname"), line, role);
        keep_alive.push(code.clone().unbind());
    }
    roles
}

pub fn make_header(py: Python<'_>, mode: Mode, program: String) -> PyResult<Header> {
    let python_version: String = py.import("sys")?.getattr("version")?.extract()?;
    Ok(Header {
        format_version: 0,
        python_version: python_version
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string(),
        racetrace_version: env!("CARGO_PKG_VERSION").to_string(),
        mode,
        program,
        seed: 0,
        started_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    })
}

/// Interns the "unknown" string and location as id 0 of their tables.
pub fn intern_unknown() {
    session::with(|s| {
        let empty = s.string("");
        debug_assert_eq!(empty, StrId(0));
        let file = s.string("<unknown>");
        s.loc(CodeLoc {
            file,
            line: 0,
            function: empty,
            offset: 0,
        })
    });
}
