//! The interpreter backend for CPython 3.12 and 3.13: a `sys.monitoring`
//! (PEP 669) tool with native callbacks, reading each version's private
//! layouts through `crate::cpython::version` (`py312/`, `py313/`), whose
//! documentation lists the facts relied on with their CPython source
//! files.
//!
//! * `events.rs`: the tool id and the events of each code object.
//! * `hook.rs`: the callbacks and each thread's tracer.
//! * `frame.rs`: frames, the value stack and the caller chain.
//! * `decode.rs`: bytecode tables, with the value-stack depth of each
//!   instruction (the interpreter does not store its stack pointer before
//!   an instruction event).
//! * `objects.rs`, `deaths.rs`, `containers.rs`: code objects, builtin
//!   identities, object deaths, which values may be containers and what an
//!   iterator step reads, shared with the 3.11 backend (the facts they
//!   rely on hold in 3.11 to 3.13; see each file).
//! * `settrace.rs`: `sys.settrace` stays the program's.
//!
//! Every function here runs with the GIL held (callbacks are called with
//! it; the rest is called from Python).

#[path = "../py311/containers.rs"]
mod containers;
#[path = "../py311/deaths.rs"]
mod deaths;
mod decode;
mod events;
mod frame;
mod hook;
mod layout;
#[path = "../py311/objects.rs"]
mod objects;
mod settrace;

use std::sync::atomic::Ordering;

use pyo3::exceptions::PyImportError;
use pyo3::ffi;
use pyo3::prelude::*;

pub use containers::{iteration_sources, may_be_container};
pub use deaths::{start_watching_deaths, stop_watching_deaths, watch_death, DeathSink};
pub use decode::{decode, decode_intercept};
pub use frame::{for_each_frame, with_frame_object, Caller, Frame};
pub use hook::{
    install, install_in_other_threads, prepare, release_hooks, restore_trace, resume_trace,
    save_trace, set_new_thread_handler, suspend_again, suspend_trace, uninstall, SavedTrace,
};
use layout::*;
pub use objects::*;
pub use settrace::*;

use crate::cpython::version::VERSION;
use crate::cpython::version::{trash_begin, trash_end};

/// `sys.monitoring` events are global: the hook sees every thread, and
/// hooks new ones itself (through the capture layer's
/// [`crate::cpython::NewThreadHandler`]).
pub const HOOKS_NEW_THREADS: bool = true;

/// The hook is a monitoring tool, not in a thread's trace slot: nothing
/// can take it away from one thread.
pub const HOOK_IN_TRACE_SLOT: bool = false;

/// Refuses any interpreter but the one this extension was built for, and
/// free-threaded builds, then checks the struct layouts against the
/// running interpreter (a debug or patched build fails here, clearly,
/// instead of crashing later).
pub fn check_layout(py: Python<'_>) -> PyResult<()> {
    let v = py.version_info();
    let (major, minor) = (VERSION.0, VERSION.1);
    if (v.major, v.minor) != (major, minor) {
        return Err(PyImportError::new_err(format!(
            "racetrace's native recorder was built for CPython {major}.{minor}; this is Python {}.{}",
            v.major, v.minor
        )));
    }
    objects::find_types(py)?;
    let sysconfig = py.import("sysconfig")?;
    let gil_disabled = sysconfig
        .call_method1("get_config_var", ("Py_GIL_DISABLED",))?
        .is_truthy()?;
    if gil_disabled {
        return Err(PyImportError::new_err(
            "racetrace supports CPython 3.11, 3.12 and 3.13 with the GIL; free-threaded builds are not supported",
        ));
    }
    let what = |part: &str| {
        PyImportError::new_err(format!(
            "racetrace: this CPython {major}.{minor} build has an unexpected {part} layout"
        ))
    };
    let code = py.import("builtins")?.getattr("compile")?.call1((
        "def _f(a, b):\n    c = a\n    return c\n",
        "<racetrace-check>",
        "exec",
    ))?;
    let func_code = code.getattr("co_consts")?.get_item(0)?;
    let raw = func_code.as_ptr() as *const RawCode;
    // SAFETY: `func_code` is a live code object; the type check reads only
    // the header, the rest is compared only after it passed.
    let ok = unsafe {
        (*raw).ob_type == &raw mut PyCode_Type
            && (*raw).co_firstlineno == 1
            && (*raw).co_nlocalsplus == 3
            && (*raw).co_filename == func_code.getattr("co_filename")?.as_ptr()
            && (*raw).co_name == func_code.getattr("co_name")?.as_ptr()
            && (*raw).co_qualname == func_code.getattr("co_qualname")?.as_ptr()
    };
    if !ok {
        return Err(what("code object"));
    }
    let ident: u64 = py
        .import("threading")?
        .call_method0("get_ident")?
        .extract()?;
    // SAFETY: the current thread state of a thread holding the GIL, and
    // the frame running the import (a borrowed frame object whose data is
    // live while it runs).
    unsafe {
        let ts = PyThreadState_Get();
        #[allow(clippy::unnecessary_cast)] // `c_ulong` is 32 bits on some platforms
        if (*ts).thread_id as u64 != ident || !crate::cpython::version::check_thread_state(ts) {
            return Err(what("thread state"));
        }
        let obj = PyEval_GetFrame();
        if !obj.is_null() {
            let data = (*obj).f_frame;
            let running = current_frame(ts);
            let frame_obj = Bound::from_borrowed_ptr(py, obj as *mut ffi::PyObject);
            let same_code =
                frame_code(data) as *mut ffi::PyObject == frame_obj.getattr("f_code")?.as_ptr();
            let same_globals = (*data).f_globals == frame_obj.getattr("f_globals")?.as_ptr();
            if data != running || !same_code || !same_globals {
                return Err(what("frame"));
            }
        }
    }
    containers::init(py)?;
    if EXTRA_INDEX.load(Ordering::Relaxed) < 0 {
        // SAFETY: GIL held; the free function matches what we store.
        let idx = unsafe { _PyEval_RequestCodeExtraIndex(Some(free_code_info)) };
        if idx < 0 {
            return Err(PyImportError::new_err(
                "racetrace: could not reserve a code-object extra slot",
            ));
        }
        EXTRA_INDEX.store(idx, Ordering::Relaxed);
    }
    Ok(())
}

/// Forgets the current thread's `threading.local` data, as its end would
/// (where each version keeps it is that version's business).
pub fn forget_thread_locals(py: Python<'_>) -> PyResult<usize> {
    crate::cpython::version::forget_thread_locals(py)
}
