//! Frames as the monitoring callbacks see them: the running instruction
//! (from the event's offset), the value stack (at its computed depth),
//! fast locals, globals and the caller chain.

use std::marker::PhantomData;
use std::sync::Arc;

use pyo3::ffi::{self, PyObject, Py_ssize_t};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::events::{want_events, EV_INSTRUCTION, EV_RETURNS};
use super::layout::*;
use super::objects::{code_line, raw_code_info, shared_code_info};
use crate::codeinfo::{CodeInfo, Instr, UNKNOWN_DEPTH};
use crate::cpython::version;
use crate::cpython::{CallArgs, CallExArgs, CallerApi, FrameApi, Scope};

/// A frame of the current thread during a monitoring callback (or a call
/// from Python), valid for `'f`.
#[derive(Clone, Copy)]
pub struct Frame<'f> {
    pub(super) frame: *mut InterpFrame,
    pub(super) code: *mut RawCode,
    /// Index (in code units) of the instruction being reported.
    pub(super) index: usize,
    /// The value-stack depth at `index` when the callback already knows
    /// it (`NOT_LOOKED_UP` otherwise; -1 for unknown).
    pub(super) depth: isize,
    pub(super) _callback: PhantomData<&'f ()>,
}

/// [`Frame::depth`] not looked up yet.
pub(super) const NOT_LOOKED_UP: isize = -2;

impl Frame<'_> {
    fn nlocalsplus(self) -> isize {
        // SAFETY: plain field read of the frame's live code object.
        unsafe { (*self.code).co_nlocalsplus as isize }
    }

    /// Address of stack slot `n` below TOS, if the stack is that deep.
    fn slot(self, n: usize) -> Option<*mut *mut PyObject> {
        let depth = self.stack_depth();
        if depth <= n as isize {
            return None;
        }
        // SAFETY: the index is below the computed depth, which the frame's
        // stack has at this instruction (see `decode`), within
        // co_stacksize slots after the fast locals.
        unsafe {
            let base = (*self.frame).localsplus.as_mut_ptr();
            Some(base.offset(self.nlocalsplus() + depth - 1 - n as isize))
        }
    }

    /// The raw value `n` below TOS (non-NULL), for type checks on the hot
    /// path that must not touch reference counts.
    pub(super) fn peek_ptr(self, n: usize) -> Option<*mut PyObject> {
        // SAFETY: a live stack slot (see `slot`).
        self.slot(n).map(|s| unsafe { *s }).filter(|p| !p.is_null())
    }

    fn code_consts_item<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
        // SAFETY: co_consts is a tuple; PyTuple_GetItem bounds-checks.
        unsafe {
            let p = ffi::PyTuple_GetItem((*self.code).co_consts, i as Py_ssize_t);
            if p.is_null() {
                ffi::PyErr_Clear();
            }
            Bound::from_borrowed_ptr_or_opt(py, p)
        }
    }
}

impl<'f> FrameApi<'f> for Frame<'f> {
    type Caller = Caller<'f>;

    fn addr(self) -> usize {
        self.frame as usize
    }

    fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: a running frame holds a strong reference to its code.
        unsafe { Bound::from_borrowed_ptr(py, self.code as *mut PyObject) }
    }

    fn info(self) -> Option<Arc<CodeInfo>> {
        shared_code_info(self.code)
    }

    #[inline(always)]
    fn instr_index(self) -> usize {
        self.index
    }

    fn lineno(self) -> u32 {
        // SAFETY: a live code object; no Python code runs.
        unsafe {
            PyCode_Addr2Line(self.code as *mut PyObject, (self.index * 2) as i32).max(0) as u32
        }
    }

    /// Events are chosen per code object, not per frame: asking for
    /// opcode events asks for instruction events in this frame's code (for
    /// every frame running it; the hook decides per thread); turning them
    /// off is left to the end of the recording.
    fn set_trace_flags(self, _lines: bool, opcodes: bool) {
        if opcodes {
            want_events(self.code, EV_INSTRUCTION);
        }
    }

    fn watch_returns(self) {
        want_events(self.code, EV_RETURNS);
    }

    fn stack_depth(self) -> isize {
        if self.depth != NOT_LOOKED_UP {
            return self.depth;
        }
        match raw_code_info(self.code).and_then(|i| i.instrs.get(self.index)) {
            Some(ins) if ins.depth != UNKNOWN_DEPTH => ins.depth as isize,
            _ => -1,
        }
    }

    fn peek<'py>(self, py: Python<'py>, n: usize) -> Option<Bound<'py, PyAny>> {
        let slot = self.slot(n)?;
        // SAFETY: a live stack slot (see `slot`); NULL is `None`.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, *slot) }
    }

    /// The instruction reads its operands from the frame's memory after
    /// the callback returns, so it sees the new value.
    fn replace(self, _py: Python<'_>, n: usize, v: &Bound<'_, PyAny>) -> bool {
        let Some(slot) = self.slot(n) else {
            return false;
        };
        // SAFETY: a live stack slot owning a reference, swapped for one to
        // `v`.
        unsafe {
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

    fn peek_is_true(self, n: usize) -> bool {
        // SAFETY: a live stack slot; only its address is compared.
        self.slot(n)
            .is_some_and(|s| unsafe { *s } == unsafe { ffi::Py_True() })
    }

    #[inline(always)]
    fn peek_is_number(self, n: usize) -> bool {
        let Some(slot) = self.slot(n) else {
            return false;
        };
        // SAFETY: a live stack slot; only the type pointer is read.
        unsafe {
            let v = *slot;
            if v.is_null() {
                return false;
            }
            let t = ffi::Py_TYPE(v);
            t == &raw mut ffi::PyLong_Type || t == &raw mut ffi::PyFloat_Type
        }
    }

    fn local<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
        if i as isize >= self.nlocalsplus() {
            return None;
        }
        // SAFETY: i < co_nlocalsplus.
        unsafe {
            let base = (*self.frame).localsplus.as_ptr();
            Bound::from_borrowed_ptr_or_opt(py, *base.add(i))
        }
    }

    fn is_free_var(self, i: usize) -> bool {
        // SAFETY: plain field read.
        let nfree = unsafe { (*self.code).co_nfreevars as isize };
        i as isize >= self.nlocalsplus() - nfree
    }

    fn n_locals(self) -> usize {
        self.nlocalsplus().max(0) as usize
    }

    fn globals<'py>(self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        // SAFETY: borrowed reference kept alive by the function/module.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, (*self.frame).f_globals) }
    }

    fn locals_are_globals(self) -> bool {
        // SAFETY: plain field reads.
        unsafe {
            let f = self.frame;
            !(*f).f_locals.is_null() && (*f).f_locals == (*f).f_globals
        }
    }

    fn name<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
        // SAFETY: co_names is a tuple; PyTuple_GetItem bounds-checks.
        unsafe {
            let p = ffi::PyTuple_GetItem((*self.code).co_names, i as Py_ssize_t);
            if p.is_null() {
                ffi::PyErr_Clear();
            }
            Bound::from_borrowed_ptr_or_opt(py, p)
        }
    }

    fn current_line(self, py: Python<'_>) -> u32 {
        code_line(&self.code(py), self.index)
    }

    fn caller(self) -> Option<Caller<'f>> {
        // SAFETY: `previous` is null or a live frame of this thread.
        unsafe { caller_of((*self.frame).previous) }
    }

    fn call_args<'py>(self, py: Python<'py>, ins: &Instr) -> Option<CallArgs<'py>> {
        let nargs = ins.arg as usize;
        let kw_on_stack = !version::KWNAMES_IN_CONSTS && ins.kw != 0;
        let ops = version::call_operands(nargs, kw_on_stack, |n| self.peek(py, n))?;
        let kwnames = if ins.kw == 0 {
            None
        } else if kw_on_stack {
            self.peek(py, 0)
        } else {
            self.code_consts_item(py, ins.kw as usize - 1)
        };
        Some(CallArgs {
            callable: ops.callable,
            total: ops.total,
            above: ops.above,
            kwnames: kwnames.and_then(|t| t.cast_into::<PyTuple>().ok()),
            depth_after: self.stack_depth() - ops.operands as isize + 1,
        })
    }

    fn call_ex_args<'py>(self, py: Python<'py>, ins: &Instr) -> Option<CallExArgs<'py>> {
        let (callable_at, args_at, operands) = version::call_ex_operands(ins.arg & 1 == 1);
        Some(CallExArgs {
            callable: self.peek(py, callable_at)?,
            args: self.peek(py, args_at)?,
            depth_after: self.stack_depth() - operands as isize + 1,
        })
    }
}

/// Index of the instruction a frame executes.
///
/// # Safety
/// `f` is a live frame of a code object (not an entry shim).
unsafe fn index_of(f: *const InterpFrame, code: *const RawCode) -> usize {
    // SAFETY: the instruction pointer points into the code's units (or
    // one before them, for a frame that has not started).
    unsafe {
        let start = (*code).co_code_adaptive.as_ptr();
        frame_instr(f).offset_from(start).max(0) as usize
    }
}

/// Whether a frame is one the caller chain shows: not an entry shim, and
/// started (`_PyFrame_IsIncomplete`, Include/internal/pycore_frame.h).
///
/// # Safety
/// `p` is a live frame of the current thread.
unsafe fn is_complete(p: *const InterpFrame) -> bool {
    // SAFETY: per the contract; the code is read only for non-shims.
    unsafe {
        if (*p).owner == FRAME_OWNED_BY_CSTACK {
            return false;
        }
        let code = frame_code(p);
        (*p).owner == FRAME_OWNED_BY_GENERATOR
            || frame_instr(p)
                >= (*code)
                    .co_code_adaptive
                    .as_ptr()
                    .offset((*code).co_firsttraceable as isize)
    }
}

/// The first started frame at or above `p`.
///
/// # Safety
/// `p` is null or a live interpreter frame of the current thread.
pub(super) unsafe fn caller_of<'f>(mut p: *mut InterpFrame) -> Option<Caller<'f>> {
    // SAFETY: `previous` links live frames of this thread.
    unsafe {
        while !p.is_null() {
            if is_complete(p) {
                let code = frame_code(p);
                return Some(Caller {
                    frame: p,
                    code,
                    index: index_of(p, code),
                    _callback: PhantomData,
                });
            }
            p = (*p).previous;
        }
        None
    }
}

/// The running frame `p` as a [`Frame`] at the instruction it executes.
///
/// # Safety
/// `p` is a live, complete frame of the current thread.
pub(super) unsafe fn frame_at<'f>(p: *mut InterpFrame) -> Frame<'f> {
    // SAFETY: per the contract.
    unsafe {
        let code = frame_code(p);
        Frame {
            frame: p,
            code,
            index: index_of(p, code),
            depth: NOT_LOOKED_UP,
            _callback: PhantomData,
        }
    }
}

/// The frames of the current thread, innermost first, each at the
/// instruction it executes.
pub fn for_each_frame(mut f: impl FnMut(Frame<'_>)) {
    // SAFETY: the current thread's state and frame chain, GIL held; the
    // frames outlive the loop (no Python code runs in it but `f`'s, which
    // cannot pop frames below the one calling us).
    unsafe {
        let mut p = current_frame(PyThreadState_Get());
        while !p.is_null() {
            if is_complete(p) {
                f(frame_at(p));
            }
            p = (*p).previous;
        }
    }
}

/// The frame object a Python-level caller passed us.
pub fn with_frame_object<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(Frame<'_>) -> R) -> Option<R> {
    // SAFETY: type-checked as a frame whose data is live (a frame object
    // of a running frame, kept alive by `obj` during `f`).
    unsafe {
        if ffi::Py_TYPE(obj.as_ptr()) != &raw mut PyFrame_Type {
            return None;
        }
        let p = (*(obj.as_ptr() as *const RawFrame)).f_frame;
        if p.is_null() || !is_complete(p) {
            return None;
        }
        Some(f(frame_at(p)))
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

/// A frame further down the current thread's stack.
#[derive(Clone, Copy)]
pub struct Caller<'f> {
    frame: *mut InterpFrame,
    code: *mut RawCode,
    index: usize,
    _callback: PhantomData<&'f ()>,
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
        // SAFETY: i < co_nlocalsplus of a live frame.
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

impl<'f> CallerApi<'f> for Caller<'f> {
    fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: a running frame holds its code.
        unsafe { Bound::from_borrowed_ptr(py, self.code as *mut PyObject) }
    }

    fn info(self) -> Option<Arc<CodeInfo>> {
        shared_code_info(self.code)
    }

    fn instr_index(self) -> usize {
        self.index
    }

    fn addr(self) -> usize {
        self.frame as usize
    }

    fn caller(self) -> Option<Caller<'f>> {
        // SAFETY: `self.frame` is live (below the reported frame).
        unsafe { caller_of((*self.frame).previous) }
    }
}
