//! The object that stands for the recorder in a thread's trace slot: it
//! owns the thread's tracer, and keeps the trace function the program
//! installed meanwhile (see `chain`).

use std::cell::UnsafeCell;
use std::ffi::c_void;

use pyo3::ffi;
use pyo3::prelude::*;

use super::layout::*;
use crate::cpython::Tracer;

/// The object in a recorded thread's trace slot (what the interpreter's
/// own `sys.gettrace()` returns; the program's `sys.gettrace` is replaced
/// while recording, see `chain`). It owns the thread's tracer (freed with
/// it: when the thread ends or the trace function is replaced and nobody
/// kept it). It is callable because code may have kept the interpreter's
/// `sys.gettrace` from before recording and put back what it returned
/// (`old = gettrace(); ...; settrace(old)`: doctest, pdb, coverage, IDE
/// debuggers): `settrace(old)` then installs it as a Python-level trace
/// function, which the interpreter calls at the next call event; that call
/// puts the native callback back with this same object and hands it the
/// call event, so recording goes on. What ran between the two (at most the
/// rest of the frame that restored it) is not seen.
#[pyclass(frozen, name = "NativeTrace", module = "racetrace._native")]
pub struct NativeTrace {
    ctx: OwnedCtx,
    callback: TraceFn,
    /// The trace function the program installed meanwhile (`chain`).
    pub(super) program: ProgramTracer,
}

/// The boxed tracer of one thread, type-erased so that `NativeTrace` is one
/// Python type whatever the tracer.
struct OwnedCtx {
    ptr: *mut c_void,
    free: unsafe fn(*mut c_void),
}

// SAFETY: the tracer is only touched with the GIL held (trace callbacks,
// and the object's deallocation), so moving the owner between threads
// cannot race.
unsafe impl Send for OwnedCtx {}
unsafe impl Sync for OwnedCtx {}

impl Drop for OwnedCtx {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::into_raw` of the type `free` was
        // instantiated for, and is freed exactly once, here.
        unsafe { (self.free)(self.ptr) }
    }
}

unsafe fn free_box<T>(p: *mut c_void) {
    // SAFETY: see `OwnedCtx::drop`.
    drop(unsafe { Box::from_raw(p as *mut T) });
}

impl NativeTrace {
    /// The object for a thread whose tracer is `ctx`, called back through
    /// `callback` (made for the same `T`).
    pub(super) fn new<T: Tracer>(ctx: T, callback: TraceFn) -> NativeTrace {
        NativeTrace {
            ctx: OwnedCtx {
                ptr: Box::into_raw(Box::new(ctx)) as *mut c_void,
                free: free_box::<T>,
            },
            callback,
            program: ProgramTracer::empty(),
        }
    }

    /// The tracer this object owns.
    ///
    /// # Safety
    /// `T` is the type the object was made for.
    pub(super) unsafe fn ctx<T: Tracer>(&self) -> &T {
        // SAFETY: per the function's contract, `ptr` came from a `Box<T>`.
        unsafe { &*(self.ctx.ptr as *const T) }
    }

    /// Makes this object the current thread's trace function again.
    pub(super) fn reinstall(slf: &Bound<'_, NativeTrace>) {
        // SAFETY: GIL held; `PyEval_SetTrace` takes its own reference.
        unsafe { PyEval_SetTrace(Some(slf.get().callback), slf.as_ptr()) };
    }
}

#[pymethods]
impl NativeTrace {
    /// Called as a Python trace function: the program re-installed what
    /// `sys.gettrace()` gave it. Puts the native callback back and lets it
    /// see the call event it would have received.
    fn __call__(
        slf: &Bound<'_, Self>,
        frame: &Bound<'_, PyAny>,
        event: &str,
        arg: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let callback = slf.get().callback;
        NativeTrace::reinstall(slf);
        if event != "call" {
            return Ok(());
        }
        // SAFETY: type-checked as a frame, kept alive by `frame`; the
        // callback is the one this object was made for.
        let rc = unsafe {
            if ffi::Py_TYPE(frame.as_ptr()) != &raw mut PyFrame_Type {
                return Ok(());
            }
            callback(
                slf.as_ptr(),
                frame.as_ptr() as *mut RawFrame,
                PYTRACE_CALL,
                arg.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(())
    }
}

/// The function the program installed with `sys.settrace` while its thread
/// is traced by racetrace.
pub(super) struct ProgramTracer(UnsafeCell<Option<Py<PyAny>>>);

// SAFETY: only touched with the GIL held (trace callbacks, and the
// `#[pyfunction]`s that call the functions below).
unsafe impl Sync for ProgramTracer {}
unsafe impl Send for ProgramTracer {}

impl ProgramTracer {
    pub(super) const fn empty() -> ProgramTracer {
        ProgramTracer(UnsafeCell::new(None))
    }

    /// The function, if any. GIL held.
    pub(super) fn get(&self) -> Option<&Py<PyAny>> {
        // SAFETY: GIL held (see the Sync impl); no `&mut` is alive.
        unsafe { (*self.0.get()).as_ref() }
    }

    /// Replaces the function; the old one is released after the slot is
    /// updated (releasing it may run Python code that reads the slot).
    pub(super) fn set(&self, func: Option<Py<PyAny>>) {
        // SAFETY: GIL held; the `&mut` ends before `old` is dropped.
        let old = unsafe { std::mem::replace(&mut *self.0.get(), func) };
        drop(old);
    }

    pub(super) fn take(&self) -> Option<Py<PyAny>> {
        // SAFETY: as in `set`.
        unsafe { (*self.0.get()).take() }
    }
}
