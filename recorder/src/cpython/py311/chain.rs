//! The program's own trace function (a debugger's, coverage.py's Python
//! tracer, doctest's save and restore) while racetrace traces the thread.
//!
//! A thread has one trace slot, which the recorder occupies. While a
//! recording or controlled run is in progress, `sys.settrace` and
//! `sys.gettrace` are replaced by [`program_settrace`] and
//! [`program_gettrace`] (see `racetrace.tracehooks`): a function the
//! program installs is kept beside the recorder's tracer, in the thread's
//! [`super::NativeTrace`], and called from the recorder's callback exactly
//! as CPython's own trampoline would call it (Python/sysmodule.c,
//! `trace_trampoline` and `call_trampoline`, 3.11):
//!
//! * a `call` event goes to the global function, whose result becomes the
//!   frame's local trace function (`frame.f_trace`) unless it is `None`;
//! * `line`, `return`, `exception` and `opcode` events go to `f_trace` if
//!   set, whose result replaces it unless it is `None`;
//! * fast locals are copied to `f_locals` before the call and back after
//!   it (`PyFrame_FastToLocalsWithError` / `PyFrame_LocalsToFast`), so a
//!   debugger can read and change variables;
//! * an exception from the function removes it (as `sys.settrace(None)`
//!   would), clears `f_trace`, adds the frame to the traceback and
//!   propagates into the traced code.
//!
//! So the program sees what it would see without racetrace: `gettrace`
//! returns what it installed (or `None`), and its function gets its events.
//! Two differences, documented: `opcode` events reach it only in frames
//! racetrace does not trace itself (in the others racetrace asked for them,
//! and cannot tell whether the program did too), and the events of the
//! recorder's own Python code (none in a recorded thread) are not seen.
//!
//! Everything here runs with the GIL held.

use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::ffi::{self, PyObject};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

use super::layout::*;
use super::native::{NativeTrace, ProgramTracer};

/// The interpreter's `sys.settrace` and `sys.gettrace`, taken when the
/// extension is imported (before they can be replaced).
static REAL_SETTRACE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static REAL_GETTRACE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The address of CPython's `trace_trampoline`, the C function that
/// `sys.settrace` installs for a Python function: a thread whose C-level
/// trace function is this one runs a Python-level trace function, which
/// racetrace can keep calling. Learned at import by installing a throwaway
/// function once (the trampoline is not exported).
static TRAMPOLINE: AtomicUsize = AtomicUsize::new(0);

/// Called once at import, before any recording.
pub fn learn_trampoline(py: Python<'_>) -> PyResult<()> {
    let sys = py.import("sys")?;
    let settrace =
        REAL_SETTRACE.get_or_try_init(py, || sys.getattr("settrace").map(Bound::unbind))?;
    REAL_GETTRACE.get_or_try_init(py, || sys.getattr("gettrace").map(Bound::unbind))?;
    let saved = super::save_trace(py);
    let probe = py.eval(c"lambda frame, event, arg: None", None, None)?;
    settrace.call1(py, (probe,))?;
    // SAFETY: the current thread state; `c_tracefunc` was just set.
    let tramp = unsafe { (*PyThreadState_Get()).c_tracefunc } as usize;
    super::restore_trace(py, saved);
    TRAMPOLINE.store(tramp, Ordering::Relaxed);
    Ok(())
}

/// Whether a thread's C-level trace function is CPython's trampoline for a
/// Python function (so its object is that function).
pub(super) fn is_trampoline(func: usize) -> bool {
    func != 0 && func == TRAMPOLINE.load(Ordering::Relaxed)
}

/// Installs `func` as an ordinary Python trace function of the current
/// thread (the interpreter's own `sys.settrace`), replacing the recorder.
pub fn real_settrace(py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<()> {
    match REAL_SETTRACE.get(py) {
        Some(settrace) => settrace.call1(py, (func,)).map(drop),
        None => py
            .import("sys")?
            .call_method1("settrace", (func,))
            .map(drop),
    }
}

/// What the interpreter's own `sys.gettrace()` returns.
pub fn real_gettrace(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    match REAL_GETTRACE.get(py) {
        Some(gettrace) => gettrace.call0(py).map(|r| r.into_bound(py)),
        None => py.import("sys")?.call_method0("gettrace"),
    }
}

/// The recorder's object of the current thread, if racetrace traces it.
pub(super) fn current_native(py: Python<'_>) -> Option<Bound<'_, NativeTrace>> {
    // SAFETY: the current thread state; `c_traceobj` is a strong
    // reference or null, borrowed here and then owned by the `Bound`.
    let obj = unsafe { Bound::from_borrowed_ptr_or_opt(py, (*PyThreadState_Get()).c_traceobj)? };
    obj.cast_into::<NativeTrace>().ok()
}

/// `sys.settrace(func)` while racetrace is active. Returns false when the
/// current thread is not traced by racetrace: the caller then does what the
/// interpreter's `sys.settrace` does.
pub fn program_settrace(py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<bool> {
    let Some(native) = current_native(py) else {
        return Ok(false);
    };
    if let Ok(saved) = func.cast::<NativeTrace>() {
        // The program put back what an earlier `gettrace` returned before
        // racetrace's replacement was there: the recorder itself.
        NativeTrace::reinstall(saved);
        return Ok(true);
    }
    if func.is_none() {
        native.get().program.set(None);
        return Ok(true);
    }
    native.get().program.set(Some(func.clone().unbind()));
    // Frames already running report line events again, as they would to a
    // newly installed tracer (racetrace turns them off for its own speed).
    super::for_each_frame(|f| {
        // SAFETY: a live frame of this thread; plain field write.
        unsafe { (*f.raw).f_trace_lines = 1 };
    });
    Ok(true)
}

/// `sys.gettrace()` while racetrace is active: `Some(what the program
/// installed, or None)` in a thread racetrace traces, `None` in others.
pub fn program_gettrace(py: Python<'_>) -> Option<Option<Bound<'_, PyAny>>> {
    let native = current_native(py)?;
    Some(native.get().program.get().map(|f| f.bind(py).clone()))
}

/// Event names, as `call_trampoline` passes them (`whatstrings`).
fn what_name(py: Python<'_>, what: c_int) -> Option<&Bound<'_, PyString>> {
    static NAMES: [PyOnceLock<Py<PyString>>; 8] = [const { PyOnceLock::new() }; 8];
    const TEXT: [&str; 8] = [
        "call",
        "exception",
        "line",
        "return",
        "c_call",
        "c_exception",
        "c_return",
        "opcode",
    ];
    let i = usize::try_from(what).ok().filter(|&i| i < TEXT.len())?;
    Some(
        NAMES[i]
            .get_or_init(py, || PyString::intern(py, TEXT[i]).unbind())
            .bind(py),
    )
}

/// Hands one event to the program's function, if it has one.
///
/// # Safety
/// GIL held; `obj` is the `NativeTrace` this callback was installed with,
/// `frame` and `arg` the callback's (valid for its duration).
pub(super) unsafe fn forward(
    py: Python<'_>,
    obj: *mut PyObject,
    frame: *mut RawFrame,
    what: c_int,
    arg: *mut PyObject,
) -> c_int {
    // SAFETY: per the function's contract.
    let owner = unsafe { Borrowed::from_ptr(py, obj).cast_unchecked::<NativeTrace>() };
    let slot = &owner.get().program;
    let Some(global) = slot.get() else {
        return 0;
    };
    let global = global.clone_ref(py);
    // SAFETY: per the function's contract.
    unsafe { call(py, slot, global.bind(py), frame, what, arg) }
}

/// What `trace_trampoline` does with one event, `global` being the
/// function installed for the thread.
///
/// # Safety
/// As [`forward`]; `slot` is the thread's slot (cleared on error).
pub(super) unsafe fn call(
    py: Python<'_>,
    slot: &ProgramTracer,
    global: &Bound<'_, PyAny>,
    frame: *mut RawFrame,
    what: c_int,
    arg: *mut PyObject,
) -> c_int {
    // SAFETY: `frame` is a live frame object for the callback's duration;
    // `f_trace` is a strong reference or null.
    unsafe {
        let callback = if what == PYTRACE_CALL {
            // racetrace turned line events off in this new frame; the
            // program's function decides for itself, from the default.
            (*frame).f_trace_lines = 1;
            global.clone()
        } else {
            match Bound::from_borrowed_ptr_or_opt(py, (*frame).f_trace) {
                Some(local) => local,
                None => return 0,
            }
        };
        let Some(name) = what_name(py, what) else {
            return 0;
        };
        let frame_obj = Bound::from_borrowed_ptr(py, frame as *mut PyObject);
        let arg =
            Bound::from_borrowed_ptr_or_opt(py, arg).unwrap_or_else(|| py.None().into_bound(py));
        let pyframe = frame as *mut ffi::PyFrameObject;
        if ffi::PyFrame_FastToLocalsWithError(pyframe) < 0 {
            return -1;
        }
        let result = callback.call1((frame_obj, name, arg));
        ffi::PyFrame_LocalsToFast(pyframe, 1);
        match result {
            Err(err) => {
                err.restore(py);
                ffi::PyTraceBack_Here(pyframe);
                slot.set(None);
                let old = std::mem::replace(&mut (*frame).f_trace, std::ptr::null_mut());
                ffi::Py_XDECREF(old);
                -1
            }
            Ok(result) => {
                if !result.is_none() {
                    let old = std::mem::replace(&mut (*frame).f_trace, result.into_ptr());
                    ffi::Py_XDECREF(old);
                }
                0
            }
        }
    }
}
