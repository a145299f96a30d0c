//! The `sys.monitoring` tool of racetrace: claiming a tool id, which
//! events each code object reports, and giving everything back when a
//! recording ends. The callbacks themselves are in `hook.rs`.
//!
//! # How events are chosen (Python/instrumentation.c)
//!
//! * Global events: PY_START (every function start, in every thread: how a
//!   code object is first seen and decided on, and how new threads are
//!   found) and PY_UNWIND (a frame left by an exception; it cannot be a
//!   local event).
//! * Local events, per code object, set once when the hook first asks for
//!   them: INSTRUCTION for traced code and for code a controlled run
//!   intercepts; PY_RETURN and PY_YIELD for the recognized standard-library
//!   functions. `set_local_events` instruments the code object in place,
//!   so a frame already running it reports from its next instruction.
//! * An INSTRUCTION callback returns `sys.monitoring.DISABLE` at every
//!   instruction whose table entry is quiet: the interpreter then removes
//!   the instrumentation of that instruction for our tool, and it costs
//!   nothing afterwards. Quiet entries are quiet in every thread (the
//!   table is per code object), so disabling is never wrong for another
//!   thread. Everything is undone when the recording ends
//!   (`release`): local events are cleared (which also forgets what
//!   was disabled), global events and callbacks removed, the tool id freed.
//!
//! Another tool (a debugger, coverage) holds its own tool id and sees its
//! own events: instrumentation keeps one set of events and one DISABLE
//! state per tool. `sys.settrace` is a separate tool of the interpreter's
//! and is left alone.

use std::collections::HashMap;
use std::ffi::c_char;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::Mutex;

use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi::{self, PyObject};
use pyo3::prelude::*;

use super::layout::*;

// Event numbers (Include/cpython/monitoring.h, the same in 3.12 and 3.13).
pub(super) const PY_START: u32 = 0;
pub(super) const PY_RETURN: u32 = 2;
pub(super) const PY_YIELD: u32 = 3;
pub(super) const INSTRUCTION: u32 = 6;
pub(super) const PY_UNWIND: u32 = 12;

pub(super) const EV_INSTRUCTION: u32 = 1 << INSTRUCTION;
pub(super) const EV_RETURNS: u32 = (1 << PY_RETURN) | (1 << PY_YIELD);
const GLOBAL_EVENTS: u32 = (1 << PY_START) | (1 << PY_UNWIND);

/// Tool ids tried, in order: the two no standard tool claims, then the
/// debugger's and the profiler's. Coverage's (1) and the optimizer's (5)
/// are never taken.
const TOOL_IDS: [i32; 4] = [3, 4, 0, 2];
const TOOL_NAME: &str = "racetrace";

/// The tool id while the hook is active; -1 otherwise.
pub(super) static TOOL: AtomicI32 = AtomicI32::new(-1);
/// `sys.monitoring.DISABLE` (immortal).
pub(super) static DISABLE: AtomicPtr<PyObject> = AtomicPtr::new(std::ptr::null_mut());

struct Active {
    monitoring: Py<PyAny>,
    /// Code objects given local events, and which (kept alive until the
    /// events are cleared).
    codes: HashMap<usize, (Py<PyAny>, u32)>,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

fn active() -> std::sync::MutexGuard<'static, Option<Active>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Claiming and releasing the tool.

fn monitoring(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("sys")?.getattr("monitoring")
}

/// Claims a tool id, registers `callbacks` (event number, function) and
/// turns on the global events (once per recording).
pub(super) fn activate(py: Python<'_>, callbacks: &[(u32, ffi::PyCFunctionFast)]) -> PyResult<()> {
    if active().is_some() {
        return Ok(());
    }
    let mon = monitoring(py)?;
    let mut tool = None;
    let mut holders = Vec::new();
    for id in TOOL_IDS {
        let holder = mon.call_method1("get_tool", (id,))?;
        if holder.is_none() {
            mon.call_method1("use_tool_id", (id, TOOL_NAME))?;
            tool = Some(id);
            break;
        }
        holders.push(format!("{id}: {}", holder.str()?));
    }
    let Some(tool) = tool else {
        return Err(PyRuntimeError::new_err(format!(
            "racetrace needs a sys.monitoring tool id, and every one it may use is taken ({}); \
             stop one of those tools first",
            holders.join(", ")
        )));
    };
    for &(event, f) in callbacks {
        let func = native_function(py, f)?;
        mon.call_method1("register_callback", (tool, 1u32 << event, func))?;
    }
    mon.call_method1("set_events", (tool, GLOBAL_EVENTS))?;
    DISABLE.store(mon.getattr("DISABLE")?.as_ptr(), Ordering::Release);
    TOOL.store(tool, Ordering::Release);
    *active() = Some(Active {
        monitoring: mon.unbind(),
        codes: HashMap::new(),
    });
    Ok(())
}

/// An error unless the tool is active (claimed by `activate`).
pub(super) fn ensure_active() -> PyResult<()> {
    match active().as_ref() {
        Some(_) => Ok(()),
        None => Err(PyRuntimeError::new_err(
            "racetrace: the monitoring hook is not active (internal error)",
        )),
    }
}

/// The function objects made for the callbacks, made once per process.
static FUNCTIONS: Mutex<Vec<(usize, Py<PyAny>)>> = Mutex::new(Vec::new());

/// A builtin function object calling `f` with the vectorcall convention
/// (the same object each time for the same `f`).
fn native_function(py: Python<'_>, f: ffi::PyCFunctionFast) -> PyResult<Bound<'_, PyAny>> {
    let key = f as usize;
    let mut made = FUNCTIONS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, func)) = made.iter().find(|(k, _)| *k == key) {
        return Ok(func.bind(py).clone());
    }
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: c"racetrace_monitor".as_ptr() as *const c_char,
        ml_meth: ffi::PyMethodDefPointer { PyCFunctionFast: f },
        ml_flags: ffi::METH_FASTCALL,
        ml_doc: std::ptr::null(),
    }));
    // SAFETY: `def` lives forever (leaked once per callback); no self.
    let func = unsafe {
        let obj = ffi::PyCFunction_NewEx(def, std::ptr::null_mut(), std::ptr::null_mut());
        Bound::from_owned_ptr_or_err(py, obj)?
    };
    made.push((key, func.clone().unbind()));
    Ok(func)
}

/// Clears every event and callback of ours and frees the tool id: the
/// interpreter runs as if racetrace had never been there. (Keeping the
/// tool and its per-code events between the controlled runs of an
/// exploration was measured: no faster, and the code that runs after the
/// exploration paid for the events left behind.)
pub(super) fn release(py: Python<'_>) {
    let Some(a) = active().take() else { return };
    let tool = TOOL.swap(-1, Ordering::AcqRel);
    let mon = a.monitoring.bind(py);
    for (code, _) in a.codes.values() {
        let _ = mon.call_method1("set_local_events", (tool, code, 0));
    }
    let _ = mon.call_method1("set_events", (tool, 0));
    for event in [PY_START, PY_RETURN, PY_YIELD, PY_UNWIND, INSTRUCTION] {
        let _ = mon.call_method1("register_callback", (tool, 1u32 << event, py.None()));
    }
    let _ = mon.call_method1("free_tool_id", (tool,));
    // SAFETY: GIL held.
    unsafe { ffi::PyErr_Clear() };
}

/// Asks for local events `ev` in `code` (added to those it has).
pub(super) fn want_events(code: *mut RawCode, ev: u32) {
    let py = crate::cpython::gil_held();
    let tool = TOOL.load(Ordering::Acquire);
    let (mon, code_obj, events) = {
        let mut guard = active();
        let Some(a) = guard.as_mut() else { return };
        let entry = a.codes.entry(code as usize).or_insert_with(|| {
            // SAFETY: a live code object (a running frame's).
            let obj = unsafe { Bound::from_borrowed_ptr(py, code as *mut PyObject) };
            (obj.unbind(), 0)
        });
        if entry.1 & ev == ev {
            return;
        }
        entry.1 |= ev;
        (a.monitoring.clone_ref(py), entry.0.clone_ref(py), entry.1)
    };
    if mon
        .bind(py)
        .call_method1("set_local_events", (tool, code_obj, events))
        .is_err()
    {
        // SAFETY: GIL held.
        unsafe { ffi::PyErr_Clear() };
    }
}
