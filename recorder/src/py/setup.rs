//! What starting a recording and starting a controlled run have in common:
//! the trace header, the tables of recognized callables and code objects,
//! and the "unknown" ids every trace begins with.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use racetrace_formats::{CodeLoc, Header, Mode, StrId};

use crate::calls::{CallRole, CallTable};
use crate::codeinfo::Role;
use crate::cpython;
use crate::session;

/// The recognized callables and code objects, keyed as the hook looks
/// them up (kept alive for the session).
pub fn call_tables(
    calls: &[(Bound<'_, PyAny>, String)],
    code_roles: &[(Bound<'_, PyAny>, String)],
) -> (CallTable, HashMap<usize, Role>, Vec<Py<PyAny>>) {
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
    let mut roles = HashMap::new();
    for (code, role) in code_roles {
        if cpython::is_code(code) {
            roles.insert(code.as_ptr() as usize, Role::from_name(role));
            keep_alive.push(code.clone().unbind());
        }
    }
    (table, roles, keep_alive)
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
