//! Everything that depends on CPython 3.11's private layout, and all of the
//! recorder's `unsafe` code.
//!
//! # Facts this module relies on (CPython 3.11, checked at import by
//! [`check_layout`])
//!
//! * `PyFrameObject` (Include/internal/pycore_frame.h, `struct _frame`):
//!   `PyObject_HEAD; f_back; f_frame; f_trace; int f_lineno;
//!   char f_trace_lines; char f_trace_opcodes; ...`.
//! * `_PyInterpreterFrame`: `f_func, f_globals, f_builtins, f_locals, f_code,
//!   frame_obj, previous, prev_instr, int stacktop, bool is_entry, char owner,
//!   PyObject *localsplus[]`. The value stack follows the `co_nlocalsplus`
//!   fast locals: TOS is `localsplus[stacktop - 1]`.
//! * Before calling a C trace function for an opcode event, `DO_TRACING` in
//!   Python/ceval.c stores the stack pointer into the frame
//!   (`_PyFrame_SetStackPointer`) and points `prev_instr` at the instruction
//!   about to run; `call_trace` sets `f_lineno` for the duration of the call
//!   and marks the thread as tracing, so Python code we call is not traced.
//!   `stacktop` is therefore only meaningful during opcode events, which is
//!   the only time [`Frame::peek`] is used.
//! * After EXTENDED_ARG the interpreter does not report the next instruction:
//!   the opcode event of an instruction with a prefix is at the prefix
//!   (handled in `decode`).
//! * `PyCodeObject` (Include/cpython/code.h, `_PyCode_DEF`): field order as in
//!   [`RawCode`]; code units start at `co_code_adaptive`; `co_extra` points to
//!   `_PyCodeObjectExtra { Py_ssize_t ce_size; void *ce_extras[]; }`
//!   (Include/internal/pycore_code.h), so reading our slot is a pointer read.
//!   The slot is written only through `_PyCode_SetExtra`, which frees a
//!   previous value with our free function.
//! * `PyMethodDescrObject`: `PyDescr_COMMON` (head, d_type, d_name,
//!   d_qualname) then `PyMethodDef *d_method`; `PyCFunctionObject`: head,
//!   `PyMethodDef *m_ml`, `PyObject *m_self`. An unbound method descriptor
//!   and the bound builtin method made from it share the `PyMethodDef`, which
//!   is therefore the identity of a builtin method.
//! * `PyThreadState` (Include/cpython/pystate.h, `struct _ts`): field order
//!   as in [`RawThreadState`] up to `thread_id`, which equals
//!   `threading.get_ident()` of that thread. `_PyEval_SetTrace(tstate, ...)`
//!   may target another thread's state while we hold the GIL (it updates
//!   that thread's `cframe->use_tracing`; 3.12's `PyEval_SetTraceAllThreads`
//!   is built on it). `c_tracefunc`/`c_traceobj` are the current trace
//!   function and its object, read to put a previous tracer back later.
//!
//! Every function here runs with the GIL held (trace callbacks are called
//! with it; the rest is called from Python). Raw pointers read from a frame
//! are valid for the duration of the callback that received the frame;
//! [`Frame`] carries that lifetime.

mod chain;
mod containers;
mod deaths;
mod decode;
mod frame;
mod layout;
mod native;
mod objects;
mod opcodes;
mod trace;

use std::sync::atomic::Ordering;

use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;

pub use chain::{
    learn_trampoline, program_gettrace, program_settrace, real_gettrace, real_settrace,
};
pub use containers::{iteration_sources, may_be_container};
pub use deaths::{start_watching_deaths, stop_watching_deaths, watch_death, DeathSink};
pub use decode::{decode, decode_intercept};
pub use frame::{Caller, Frame};
use layout::*;
pub use objects::*;
pub use trace::*;

use super::NewThreadHandler;

extern "C" {
    fn _PyTrash_begin(
        tstate: *mut pyo3::ffi::PyThreadState,
        op: *mut pyo3::ffi::PyObject,
    ) -> std::ffi::c_int;
    fn _PyTrash_end(tstate: *mut pyo3::ffi::PyThreadState);
}

/// `Py_TRASHCAN_BEGIN` (Include/cpython/object.h, 3.11): true when the
/// object was put aside, to be freed later (the deallocator must return).
///
/// # Safety
/// GIL held; `op` is being deallocated by `ts`'s thread.
pub(super) unsafe fn trash_begin(
    ts: *mut pyo3::ffi::PyThreadState,
    op: *mut pyo3::ffi::PyObject,
) -> bool {
    // SAFETY: per the contract.
    unsafe { _PyTrash_begin(ts, op) != 0 }
}

/// `Py_TRASHCAN_END`, after a deallocation that `trash_begin` let run.
///
/// # Safety
/// As [`trash_begin`], paired with it.
pub(super) unsafe fn trash_end(ts: *mut pyo3::ffi::PyThreadState) {
    // SAFETY: per the contract.
    unsafe { _PyTrash_end(ts) }
}

/// New threads are hooked by the Python layer (`threading.settrace` hands
/// each new thread to `_native.thread_started`): the C trace function is
/// per thread and sees nothing of threads it was not installed in.
pub const HOOKS_NEW_THREADS: bool = false;

/// The hook lives in each thread's trace slot, which C code can take over
/// (`PyEval_SetTrace`): a tracer freed while its actor runs means that.
pub const HOOK_IN_TRACE_SLOT: bool = true;

/// Never called on 3.11 (see [`HOOKS_NEW_THREADS`]).
pub fn set_new_thread_handler(_handler: NewThreadHandler) {}

/// Nothing to prepare: the trace function is installed thread by thread.
pub fn prepare<T: super::Tracer>(_py: Python<'_>) -> PyResult<()> {
    Ok(())
}

/// Nothing is left behind by a recording on 3.11: each thread's trace
/// function removes itself at its next event.
pub fn release_hooks(_py: Python<'_>) {}

/// Refuses anything but CPython 3.11 and checks that the struct layouts
/// above agree with the running interpreter (a debug or patched build fails
/// here with a clear message instead of crashing later).
pub fn check_layout(py: Python<'_>) -> PyResult<()> {
    let (major, minor) = {
        let v = py.version_info();
        (v.major, v.minor)
    };
    if (major, minor) != (3, 11) {
        return Err(PyImportError::new_err(format!(
            "racetrace's native recorder supports CPython 3.11 only; this is Python {major}.{minor}"
        )));
    }
    objects::find_types(py)?;
    let code = py.import("builtins")?.getattr("compile")?.call1((
        "def _f(a, b):\n    c = a\n    return c\n",
        "<racetrace-check>",
        "exec",
    ))?;
    let consts = code.getattr("co_consts")?;
    let func_code = consts.get_item(0)?;
    let raw = func_code.as_ptr() as *const RawCode;
    // SAFETY: `func_code` is a live code object (checked below before any
    // pointer field is compared, the type check uses only the header).
    let ok = unsafe {
        (*raw).ob_type == &raw mut PyCode_Type
            && (*raw).co_firstlineno == 1
            && (*raw).co_nlocalsplus == 3
            && (*raw).co_filename == func_code.getattr("co_filename")?.as_ptr()
            && (*raw).co_name == func_code.getattr("co_name")?.as_ptr()
    };
    if !ok {
        return Err(PyImportError::new_err(
            "racetrace: this CPython 3.11 build has an unexpected code object layout",
        ));
    }
    let ident: u64 = py
        .import("threading")?
        .call_method0("get_ident")?
        .extract()?;
    // SAFETY: the current thread state of a thread holding the GIL.
    // `c_ulong` is 32 bits on some platforms.
    #[allow(clippy::unnecessary_cast)]
    let tid = unsafe { (*PyThreadState_Get()).thread_id as u64 };
    if tid != ident {
        return Err(PyImportError::new_err(
            "racetrace: this CPython 3.11 build has an unexpected thread state layout",
        ));
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
