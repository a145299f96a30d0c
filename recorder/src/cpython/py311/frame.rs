//! Frames as the trace function sees them: the running instruction, the
//! value stack (opcode events only), fast locals, globals and the caller
//! chain.

use std::ffi::c_char;
use std::marker::PhantomData;
use std::sync::Arc;

use pyo3::ffi::{self, PyObject, Py_ssize_t};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::layout::*;
use super::objects::{code_line, shared_code_info};
use crate::codeinfo::{CodeInfo, Instr};
use crate::cpython::{CallArgs, CallExArgs, CallerApi, FrameApi, Scope};

/// A frame received by the trace function, valid for `'f` (the callback).
#[derive(Clone, Copy)]
pub struct Frame<'f> {
    pub(super) raw: *mut RawFrame,
    pub(super) _callback: PhantomData<&'f ()>,
}

impl<'f> Frame<'f> {
    #[inline(always)]
    pub(super) fn iframe(self) -> *mut InterpFrame {
        // SAFETY: a frame object handed to a trace function has its data.
        unsafe { (*self.raw).f_frame }
    }

    #[inline(always)]
    pub(super) fn raw_code(self) -> *mut RawCode {
        // SAFETY: see `iframe`; f_code is a strong reference.
        unsafe { (*self.iframe()).f_code }
    }

    /// The raw value `n` places below TOS during an opcode event, if any.
    #[inline(always)]
    pub(super) fn peek_ptr(self, n: usize) -> Option<*mut PyObject> {
        let depth = self.stack_depth();
        if depth <= n as isize {
            return None;
        }
        // SAFETY: index within [nlocalsplus, stacktop), as in `peek`.
        let p = unsafe {
            let base = (*self.iframe()).localsplus.as_ptr();
            *base.offset(self.nlocalsplus() + depth - 1 - n as isize)
        };
        (!p.is_null()).then_some(p)
    }

    fn nlocalsplus(self) -> isize {
        // SAFETY: plain field read.
        unsafe { (*self.raw_code()).co_nlocalsplus as isize }
    }
}

impl<'f> FrameApi<'f> for Frame<'f> {
    type Caller = Caller<'f>;

    /// Identity of the running frame (its interpreter frame), stable while it runs.
    fn addr(self) -> usize {
        self.iframe() as usize
    }

    fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: f_code is a live code object.
        unsafe { Bound::from_borrowed_ptr(py, self.raw_code() as *mut PyObject) }
    }

    fn info(self) -> Option<Arc<CodeInfo>> {
        shared_code_info(self.raw_code())
    }

    /// Index (in code units) of the instruction being reported.
    #[inline(always)]
    fn instr_index(self) -> usize {
        // SAFETY: prev_instr points into this code's units during a callback
        // (or just before them for a frame that has not started).
        unsafe {
            let code = self.raw_code();
            let start = (*code).co_code_adaptive.as_ptr();
            let d = (*self.iframe()).prev_instr.offset_from(start);
            if d < 0 {
                0
            } else {
                d as usize
            }
        }
    }

    fn lineno(self) -> u32 {
        // SAFETY: plain field read.
        unsafe { (*self.raw).f_lineno.max(0) as u32 }
    }

    fn set_trace_flags(self, lines: bool, opcodes: bool) {
        // SAFETY: plain field writes; the interpreter reads them per event.
        unsafe {
            (*self.raw).f_trace_lines = lines as c_char;
            (*self.raw).f_trace_opcodes = opcodes as c_char;
        }
    }

    /// Every frame reports its return event to a C trace function.
    fn watch_returns(self) {}

    /// Number of values on the value stack (opcode events only).
    fn stack_depth(self) -> isize {
        // SAFETY: plain field read.
        unsafe { (*self.iframe()).stacktop as isize - self.nlocalsplus() }
    }

    /// The value `n` places below the top of the stack (0 = TOS), during an
    /// opcode event. `None` when out of range or NULL (3.11 pushes NULL
    /// before some callables).
    fn peek<'py>(self, py: Python<'py>, n: usize) -> Option<Bound<'py, PyAny>> {
        let depth = self.stack_depth();
        if depth <= n as isize {
            return None;
        }
        // SAFETY: index is within [nlocalsplus, stacktop) checked above.
        unsafe {
            let base = (*self.iframe()).localsplus.as_ptr();
            let p = *base.offset(self.nlocalsplus() + depth - 1 - n as isize);
            Bound::from_borrowed_ptr_or_opt(py, p)
        }
    }

    /// Replaces the value `n` places below TOS (an argument of the call
    /// about to run), during an opcode event: how a controlled run makes a
    /// lock acquire time out at once or a `time.sleep` return at once. The
    /// interpreter reloads its stack pointer from the frame after the
    /// callback (`DO_TRACING`), so the call sees the new value.
    fn replace(self, py: Python<'_>, n: usize, v: &Bound<'_, PyAny>) -> bool {
        let _ = py;
        let depth = self.stack_depth();
        if depth <= n as isize {
            return false;
        }
        // SAFETY: index within the live stack (checked above); the slot
        // owns a reference, which we swap for one to `v`.
        unsafe {
            let base = (*self.iframe()).localsplus.as_ptr() as *mut *mut PyObject;
            let slot = base.offset(self.nlocalsplus() + depth - 1 - n as isize);
            let old = *slot;
            if old.is_null() {
                return false;
            }
            ffi::Py_IncRef(v.as_ptr());
            *slot = v.as_ptr();
            ffi::Py_DecRef(old);
        }
        true
    }

    /// True if the value `n` places below TOS is exactly `True`.
    fn peek_is_true(self, n: usize) -> bool {
        let depth = self.stack_depth();
        if depth <= n as isize {
            return false;
        }
        // SAFETY: as in `peek`.
        unsafe {
            let base = (*self.iframe()).localsplus.as_ptr();
            *base.offset(self.nlocalsplus() + depth - 1 - n as isize) == ffi::Py_True()
        }
    }

    /// True if the value `n` places below TOS is exactly an int or a float
    /// (the common left operand of `+=`, which is never recorded).
    #[inline(always)]
    fn peek_is_number(self, n: usize) -> bool {
        let depth = self.stack_depth();
        if depth <= n as isize {
            return false;
        }
        // SAFETY: as in `peek`; only the type pointer is read.
        unsafe {
            let base = (*self.iframe()).localsplus.as_ptr();
            let v = *base.offset(self.nlocalsplus() + depth - 1 - n as isize);
            if v.is_null() {
                return false;
            }
            let t = ffi::Py_TYPE(v);
            t == &raw mut ffi::PyLong_Type || t == &raw mut ffi::PyFloat_Type
        }
    }

    /// Fast local / cell / free variable `i` (may be NULL → `None`).
    fn local<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
        if i as isize >= self.nlocalsplus() {
            return None;
        }
        // SAFETY: i < co_nlocalsplus.
        unsafe {
            let base = (*self.iframe()).localsplus.as_ptr();
            Bound::from_borrowed_ptr_or_opt(py, *base.add(i))
        }
    }

    /// Free variables are the last `co_nfreevars` fast locals.
    fn is_free_var(self, i: usize) -> bool {
        // SAFETY: plain field read.
        let nfree = unsafe { (*self.raw_code()).co_nfreevars as isize };
        i as isize >= self.nlocalsplus() - nfree
    }

    fn n_locals(self) -> usize {
        self.nlocalsplus().max(0) as usize
    }

    fn globals<'py>(self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        // SAFETY: borrowed reference kept alive by the function/module.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, (*self.iframe()).f_globals) }
    }

    /// Module-level code: names are globals.
    fn locals_are_globals(self) -> bool {
        // SAFETY: plain field reads.
        unsafe {
            let f = self.iframe();
            !(*f).f_locals.is_null() && (*f).f_locals == (*f).f_globals
        }
    }

    /// `co_names[i]` of the running code.
    fn name<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
        // SAFETY: co_names is a tuple; PyTuple_GetItem bounds-checks.
        unsafe {
            let names = (*self.raw_code()).co_names;
            let p = ffi::PyTuple_GetItem(names, i as Py_ssize_t);
            if p.is_null() {
                ffi::PyErr_Clear();
            }
            Bound::from_borrowed_ptr_or_opt(py, p)
        }
    }

    /// The source line of the current instruction (outside trace events,
    /// where `f_lineno` is not maintained).
    fn current_line(self, py: Python<'_>) -> u32 {
        code_line(&self.code(py), self.instr_index())
    }

    /// The calling frame, skipping frames that have not started yet.
    fn caller(self) -> Option<Caller<'f>> {
        // SAFETY: `previous` is null or a live frame of this thread.
        unsafe { caller_of((*self.iframe()).previous) }
    }

    /// PRECALL (Python/ceval.c, 3.11): the stack is `[NULL | method,
    /// callable | self, args...]`, `oparg` arguments; KW_NAMES before it
    /// named the last ones (a constant tuple, `ins.kw` - 1 in `co_consts`).
    fn call_args<'py>(self, py: Python<'py>, ins: &Instr) -> Option<CallArgs<'py>> {
        let nargs = ins.arg as usize;
        let (callable, total) = match (self.peek(py, nargs + 1), self.peek(py, nargs)) {
            (Some(method), _) => (method, nargs + 1),
            (None, Some(callable)) => (callable, nargs),
            (None, None) => return None,
        };
        let kwnames = if ins.kw == 0 {
            None
        } else {
            // SAFETY: co_consts is a tuple; PyTuple_GetItem bounds-checks.
            unsafe {
                let p =
                    ffi::PyTuple_GetItem((*self.raw_code()).co_consts, ins.kw as Py_ssize_t - 1);
                if p.is_null() {
                    ffi::PyErr_Clear();
                }
                Bound::from_borrowed_ptr_or_opt(py, p).and_then(|t| t.cast_into::<PyTuple>().ok())
            }
        };
        Some(CallArgs {
            callable,
            total,
            above: 0,
            kwnames,
            // CALL replaces the callable, self/NULL and the arguments by
            // the result.
            depth_after: self.stack_depth() - (nargs as isize + 2) + 1,
        })
    }

    /// CALL_FUNCTION_EX: `[NULL, callable, args, kwargs?]`.
    fn call_ex_args<'py>(self, py: Python<'py>, ins: &Instr) -> Option<CallExArgs<'py>> {
        let kw = (ins.arg & 1) as usize;
        Some(CallExArgs {
            callable: self.peek(py, 1 + kw)?,
            args: self.peek(py, kw)?,
            depth_after: self.stack_depth() - 2 - kw as isize,
        })
    }
}

/// The first started frame at or above `p`.
///
/// # Safety
/// `p` is null or a live interpreter frame of the current thread.
unsafe fn caller_of<'f>(mut p: *mut InterpFrame) -> Option<Caller<'f>> {
    // SAFETY: `previous` links live frames of this thread.
    unsafe {
        {
            while !p.is_null() {
                let code = (*p).f_code;
                let start = (*code).co_code_adaptive.as_ptr();
                let incomplete = (*p).owner != FRAME_OWNED_BY_GENERATOR
                    && ((*p).prev_instr as *const u16)
                        < start.offset((*code).co_firsttraceable as isize);
                if !incomplete {
                    let d = (*p).prev_instr.offset_from(start).max(0) as usize;
                    return Some(Caller {
                        frame: p,
                        code,
                        index: d,
                        _callback: PhantomData,
                    });
                }
                p = (*p).previous;
            }
            None
        }
    }
}

impl Scope for Frame<'_> {
    fn scope_code<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.code(py)
    }
    fn scope_len(&self) -> usize {
        self.n_locals()
    }
    fn scope_local<'py>(&self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
        self.local(py, i)
    }
    fn scope_globals<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.globals(py)
    }
}

impl Scope for Caller<'_> {
    fn scope_code<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.code(py)
    }
    fn scope_len(&self) -> usize {
        // SAFETY: a live frame's code.
        unsafe { (*self.code).co_nlocalsplus.max(0) as usize }
    }
    fn scope_local<'py>(&self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
        if i >= self.scope_len() {
            return None;
        }
        // SAFETY: i < co_nlocalsplus; the frame is live (below the one
        // being reported).
        unsafe {
            let base = (*self.frame).localsplus.as_ptr();
            Bound::from_borrowed_ptr_or_opt(py, *base.add(i))
        }
    }
    fn scope_globals<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        // SAFETY: borrowed reference kept alive by the function/module.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, (*self.frame).f_globals) }
    }
}

/// The frame that called the one being reported.
#[derive(Clone, Copy)]
pub struct Caller<'f> {
    frame: *mut InterpFrame,
    code: *mut RawCode,
    index: usize,
    pub(super) _callback: PhantomData<&'f ()>,
}

impl<'f> CallerApi<'f> for Caller<'f> {
    fn instr_index(self) -> usize {
        self.index
    }

    fn addr(self) -> usize {
        self.frame as usize
    }

    fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: a running frame holds its code.
        unsafe { Bound::from_borrowed_ptr(py, self.code as *mut PyObject) }
    }

    fn info(self) -> Option<Arc<CodeInfo>> {
        shared_code_info(self.code)
    }

    /// This frame's own caller.
    fn caller(self) -> Option<Caller<'f>> {
        // SAFETY: `self.frame` is a live frame of this thread (it is below
        // the frame being reported), so its `previous` is too.
        unsafe { caller_of((*self.frame).previous) }
    }
}
