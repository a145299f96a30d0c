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

use std::ffi::{c_char, c_int, c_void};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use pyo3::exceptions::PyImportError;
use pyo3::ffi::{self, PyObject, PyTypeObject, Py_ssize_t};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::codeinfo::CodeInfo;
use crate::decode::Action;
use crate::hook::{self, ThreadCtx};

type TraceFn = unsafe extern "C" fn(*mut PyObject, *mut RawFrame, c_int, *mut PyObject) -> c_int;
type FreeFn = unsafe extern "C" fn(*mut c_void);

const PYTRACE_CALL: c_int = 0;
const PYTRACE_RETURN: c_int = 3;
const PYTRACE_OPCODE: c_int = 7;

extern "C" {
    fn PyEval_SetTrace(func: Option<TraceFn>, obj: *mut PyObject);
    fn PyEval_GetFrame() -> *mut RawFrame;
    fn PyFrame_GetBack(frame: *mut RawFrame) -> *mut RawFrame;
    fn PyCode_Addr2Line(code: *mut PyObject, byte_offset: c_int) -> c_int;
    fn _PyEval_RequestCodeExtraIndex(free: Option<FreeFn>) -> Py_ssize_t;
    fn _PyCode_SetExtra(code: *mut PyObject, index: Py_ssize_t, extra: *mut c_void) -> c_int;
    fn _PyEval_SetTrace(
        tstate: *mut RawThreadState,
        func: Option<TraceFn>,
        obj: *mut PyObject,
    ) -> c_int;
    fn PyThreadState_Get() -> *mut RawThreadState;
    fn PyThreadState_GetFrame(tstate: *mut RawThreadState) -> *mut RawFrame;
    fn PyThreadState_Next(tstate: *mut RawThreadState) -> *mut RawThreadState;
    fn PyInterpreterState_ThreadHead(interp: *mut c_void) -> *mut RawThreadState;
    fn PyInterpreterState_Get() -> *mut c_void;
    static mut PyMethodDescr_Type: PyTypeObject;
    static mut PyCFunction_Type: PyTypeObject;
    static mut PyWrapperDescr_Type: PyTypeObject;
    static mut PyCode_Type: PyTypeObject;
    static mut PyFrame_Type: PyTypeObject;
}

#[repr(C)]
struct RawCode {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut PyTypeObject,
    ob_size: Py_ssize_t,
    co_consts: *mut PyObject,
    co_names: *mut PyObject,
    co_exceptiontable: *mut PyObject,
    co_flags: c_int,
    co_warmup: i16,
    co_linearray_entry_size: i16,
    co_argcount: c_int,
    co_posonlyargcount: c_int,
    co_kwonlyargcount: c_int,
    co_stacksize: c_int,
    co_firstlineno: c_int,
    co_nlocalsplus: c_int,
    co_nlocals: c_int,
    co_nplaincellvars: c_int,
    co_ncellvars: c_int,
    co_nfreevars: c_int,
    co_localsplusnames: *mut PyObject,
    co_localspluskinds: *mut PyObject,
    co_filename: *mut PyObject,
    co_name: *mut PyObject,
    co_qualname: *mut PyObject,
    co_linetable: *mut PyObject,
    co_weakreflist: *mut PyObject,
    co_code_cached: *mut PyObject,
    co_linearray: *mut c_char,
    co_firsttraceable: c_int,
    co_extra: *mut c_void,
    co_code_adaptive: [u16; 0],
}

#[repr(C)]
struct CodeExtra {
    ce_size: Py_ssize_t,
    ce_extras: [*mut c_void; 0],
}

#[repr(C)]
struct InterpFrame {
    f_func: *mut PyObject,
    f_globals: *mut PyObject,
    f_builtins: *mut PyObject,
    f_locals: *mut PyObject,
    f_code: *mut RawCode,
    frame_obj: *mut RawFrame,
    previous: *mut InterpFrame,
    prev_instr: *mut u16,
    stacktop: c_int,
    is_entry: bool,
    owner: c_char,
    localsplus: [*mut PyObject; 0],
}

const FRAME_OWNED_BY_GENERATOR: c_char = 1;

#[repr(C)]
pub struct RawFrame {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut PyTypeObject,
    f_back: *mut RawFrame,
    f_frame: *mut InterpFrame,
    f_trace: *mut PyObject,
    f_lineno: c_int,
    f_trace_lines: c_char,
    f_trace_opcodes: c_char,
}

#[repr(C)]
struct RawMethodDescr {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut PyTypeObject,
    d_type: *mut PyTypeObject,
    d_name: *mut PyObject,
    d_qualname: *mut PyObject,
    d_method: *mut c_void,
}

#[repr(C)]
struct RawCFunction {
    ob_refcnt: Py_ssize_t,
    ob_type: *mut PyTypeObject,
    m_ml: *mut c_void,
    m_self: *mut PyObject,
}

/// The start of `PyThreadState` (Include/cpython/pystate.h, `struct _ts`),
/// up to the thread id.
#[repr(C)]
struct RawThreadState {
    prev: *mut RawThreadState,
    next: *mut RawThreadState,
    interp: *mut c_void,
    initialized: c_int,
    is_static: c_int,
    recursion_remaining: c_int,
    recursion_limit: c_int,
    recursion_headroom: c_int,
    tracing: c_int,
    tracing_what: c_int,
    cframe: *mut c_void,
    c_profilefunc: *mut c_void,
    c_tracefunc: *mut c_void,
    c_profileobj: *mut PyObject,
    c_traceobj: *mut PyObject,
    curexc_type: *mut PyObject,
    curexc_value: *mut PyObject,
    curexc_traceback: *mut PyObject,
    exc_info: *mut c_void,
    dict: *mut PyObject,
    gilstate_counter: c_int,
    async_exc: *mut PyObject,
    thread_id: std::ffi::c_ulong,
}

/// Our slot in every code object's extra data; -1 until requested.
static EXTRA_INDEX: AtomicIsize = AtomicIsize::new(-1);

// The slot holds one strong count of an `Arc<CodeInfo>`. A table is
// replaced when a new recording starts; a callback in another thread may
// still use the old one (across a Python call that let this thread run), so
// users outside the hot path hold their own count (`Frame::info`).
unsafe extern "C" fn free_code_info(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: every non-null value in our slot was made by
        // Arc::into_raw in `set_code_info`; CPython calls this once per value.
        drop(unsafe { Arc::from_raw(p as *const CodeInfo) });
    }
}

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

/// Our decoded table for a code object, if it has one. Borrowed from the
/// slot: only for code that runs no Python before it is done with it.
#[inline(always)]
fn raw_code_info<'a>(code: *const RawCode) -> Option<&'a CodeInfo> {
    let idx = EXTRA_INDEX.load(Ordering::Relaxed);
    // SAFETY: `code` is a live code object (it comes from a frame in a trace
    // callback or from a Bound); `co_extra` is null or a `CodeExtra` with
    // `ce_size` slots; our slot holds null or an `Arc<CodeInfo>` pointer.
    unsafe {
        let extra = (*code).co_extra as *const CodeExtra;
        if extra.is_null() || idx < 0 || idx >= (*extra).ce_size {
            return None;
        }
        let p = *(*extra).ce_extras.as_ptr().offset(idx) as *const CodeInfo;
        p.as_ref()
    }
}

/// A counted reference to the table of a code object.
fn shared_code_info(code: *const RawCode) -> Option<Arc<CodeInfo>> {
    let p = raw_code_info(code)? as *const CodeInfo;
    // SAFETY: `p` came from Arc::into_raw and the slot still holds its count.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Stores `info` as the table of `code`; CPython releases the slot's count
/// of any older one.
pub fn set_code_info(code: &Bound<'_, PyAny>, info: CodeInfo) -> bool {
    let idx = EXTRA_INDEX.load(Ordering::Relaxed);
    if idx < 0 || !is_code(code) {
        return false;
    }
    let p = Arc::into_raw(Arc::new(info)) as *mut c_void;
    // SAFETY: GIL held, `code` is a code object, `idx` was reserved.
    let rc = unsafe { _PyCode_SetExtra(code.as_ptr(), idx, p) };
    if rc != 0 {
        // SAFETY: not stored, so still ours.
        drop(unsafe { Arc::from_raw(p as *const CodeInfo) });
        // SAFETY: GIL held.
        unsafe { ffi::PyErr_Clear() };
        return false;
    }
    true
}

pub fn is_code(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: reading the type of a live object.
    unsafe { ffi::Py_TYPE(obj.as_ptr()) == &raw mut PyCode_Type }
}

/// `co_localsplusnames` (not exposed to Python in 3.11).
pub fn code_localsplusnames<'py>(code: &Bound<'py, PyAny>) -> Option<Bound<'py, PyTuple>> {
    if !is_code(code) {
        return None;
    }
    // SAFETY: `code` is a live code object; the field is a tuple it owns.
    unsafe {
        let t = (*(code.as_ptr() as *const RawCode)).co_localsplusnames;
        Bound::from_borrowed_ptr_or_opt(code.py(), t).and_then(|b| b.cast_into::<PyTuple>().ok())
    }
}

/// The source line of the instruction at code-unit index `index`.
pub fn code_line(code: &Bound<'_, PyAny>, index: usize) -> u32 {
    if !is_code(code) {
        return 0;
    }
    // SAFETY: live code object, GIL held.
    let line = unsafe { PyCode_Addr2Line(code.as_ptr(), (index * 2) as c_int) };
    line.max(0) as u32
}

/// A frame received by the trace function, valid for `'f` (the callback).
#[derive(Clone, Copy)]
pub struct Frame<'f> {
    raw: *mut RawFrame,
    _callback: PhantomData<&'f ()>,
}

impl<'f> Frame<'f> {
    #[inline(always)]
    fn iframe(self) -> *mut InterpFrame {
        // SAFETY: a frame object handed to a trace function has its data.
        unsafe { (*self.raw).f_frame }
    }

    #[inline(always)]
    fn raw_code(self) -> *mut RawCode {
        // SAFETY: see `iframe`; f_code is a strong reference.
        unsafe { (*self.iframe()).f_code }
    }

    /// Identity of the running frame (its interpreter frame), stable while it runs.
    pub fn addr(self) -> usize {
        self.iframe() as usize
    }

    pub fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: f_code is a live code object.
        unsafe { Bound::from_borrowed_ptr(py, self.raw_code() as *mut PyObject) }
    }

    pub fn info(self) -> Option<Arc<CodeInfo>> {
        shared_code_info(self.raw_code())
    }

    /// Index (in code units) of the instruction being reported.
    #[inline(always)]
    pub fn instr_index(self) -> usize {
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

    pub fn lineno(self) -> u32 {
        // SAFETY: plain field read.
        unsafe { (*self.raw).f_lineno.max(0) as u32 }
    }

    pub fn set_trace_flags(self, lines: bool, opcodes: bool) {
        // SAFETY: plain field writes; the interpreter reads them per event.
        unsafe {
            (*self.raw).f_trace_lines = lines as c_char;
            (*self.raw).f_trace_opcodes = opcodes as c_char;
        }
    }

    fn nlocalsplus(self) -> isize {
        // SAFETY: plain field read.
        unsafe { (*self.raw_code()).co_nlocalsplus as isize }
    }

    /// Number of values on the value stack (opcode events only).
    pub fn stack_depth(self) -> isize {
        // SAFETY: plain field read.
        unsafe { (*self.iframe()).stacktop as isize - self.nlocalsplus() }
    }

    /// The value `n` places below the top of the stack (0 = TOS), during an
    /// opcode event. `None` when out of range or NULL (3.11 pushes NULL
    /// before some callables).
    pub fn peek<'py>(self, py: Python<'py>, n: usize) -> Option<Bound<'py, PyAny>> {
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
    pub fn replace(self, py: Python<'_>, n: usize, v: &Bound<'_, PyAny>) -> bool {
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
    pub fn peek_is_true(self, n: usize) -> bool {
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
    pub fn peek_is_number(self, n: usize) -> bool {
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
    pub fn local<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
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
    pub fn is_free_var(self, i: usize) -> bool {
        // SAFETY: plain field read.
        let nfree = unsafe { (*self.raw_code()).co_nfreevars as isize };
        i as isize >= self.nlocalsplus() - nfree
    }

    pub fn n_locals(self) -> usize {
        self.nlocalsplus().max(0) as usize
    }

    pub fn globals<'py>(self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        // SAFETY: borrowed reference kept alive by the function/module.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, (*self.iframe()).f_globals) }
    }

    /// Module-level code: names are globals.
    pub fn locals_are_globals(self) -> bool {
        // SAFETY: plain field reads.
        unsafe {
            let f = self.iframe();
            !(*f).f_locals.is_null() && (*f).f_locals == (*f).f_globals
        }
    }

    /// `co_names[i]` of the running code.
    pub fn name<'py>(self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>> {
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
    pub fn current_line(self, py: Python<'_>) -> u32 {
        code_line(&self.code(py), self.instr_index())
    }

    /// The calling frame, skipping frames that have not started yet.
    pub fn caller(self) -> Option<Caller<'f>> {
        // SAFETY: `previous` is null or a live frame of this thread.
        unsafe { caller_of((*self.iframe()).previous) }
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

/// Read access to a running frame's variables, used to name objects after
/// the variable that holds them.
pub trait Scope {
    fn scope_code<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny>;
    fn scope_len(&self) -> usize;
    fn scope_local<'py>(&self, py: Python<'py>, i: usize) -> Option<Bound<'py, PyAny>>;
    fn scope_globals<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>>;
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
    pub index: usize,
    _callback: PhantomData<&'f ()>,
}

impl<'f> Caller<'f> {
    pub fn code<'py>(self, py: Python<'py>) -> Bound<'py, PyAny> {
        // SAFETY: a running frame holds its code.
        unsafe { Bound::from_borrowed_ptr(py, self.code as *mut PyObject) }
    }

    pub fn info(self) -> Option<Arc<CodeInfo>> {
        shared_code_info(self.code)
    }

    /// This frame's own caller.
    pub fn caller(self) -> Option<Caller<'f>> {
        // SAFETY: `self.frame` is a live frame of this thread (it is below
        // the frame being reported), so its `previous` is too.
        unsafe { caller_of((*self.frame).previous) }
    }
}

/// The `PyMethodDef` identity of a builtin method, and the object it is bound
/// to: for a method descriptor (`list.append`) the self is the first
/// argument, so `None`; for a bound builtin (`lock.acquire`, `len`) it is
/// `m_self`.
pub fn builtin_method<'py>(
    callable: &Bound<'py, PyAny>,
) -> Option<(usize, Option<Bound<'py, PyAny>>)> {
    let p = callable.as_ptr();
    // SAFETY: type checks first, then fields of the matching struct.
    unsafe {
        let t = ffi::Py_TYPE(p);
        if t == &raw mut PyMethodDescr_Type {
            return Some(((*(p as *const RawMethodDescr)).d_method as usize, None));
        }
        if t == &raw mut PyCFunction_Type
            || ffi::PyType_IsSubtype(t, &raw mut PyCFunction_Type) != 0
        {
            let f = p as *const RawCFunction;
            let me = Bound::from_borrowed_ptr_or_opt(callable.py(), (*f).m_self);
            return Some(((*f).m_ml as usize, me));
        }
    }
    None
}

/// The name of a builtin method from its `PyMethodDef` (as returned by
/// [`builtin_method`]).
pub fn method_def_name(def: usize) -> String {
    if def == 0 {
        return String::new();
    }
    // SAFETY: `def` is a live `PyMethodDef` (static in its extension
    // module); its first field is the NUL-terminated `ml_name`.
    unsafe {
        let name = *(def as *const *const c_char);
        if name.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned()
    }
}

/// A slot wrapper such as `object.__setattr__` (recognized by identity).
pub fn is_slot_wrapper(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: reading the type of a live object.
    unsafe { ffi::Py_TYPE(obj.as_ptr()) == &raw mut PyWrapperDescr_Type }
}

/// Whether weak references to `obj` can be made (`PyType_SUPPORTS_WEAKREFS`:
/// a non-zero `tp_weaklistoffset`), checked without raising.
pub fn supports_weakrefs(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: reading a field of the type of a live object.
    unsafe { (*ffi::Py_TYPE(obj.as_ptr())).tp_weaklistoffset > 0 }
}

/// `issubclass` at the C level (no `__subclasscheck__`, no Python code).
pub fn type_is_subtype(t: &Bound<'_, PyAny>, base: &Bound<'_, PyAny>) -> bool {
    // SAFETY: both are checked to be type objects first.
    unsafe {
        ffi::PyType_Check(t.as_ptr()) != 0
            && ffi::PyType_Check(base.as_ptr()) != 0
            && ffi::PyType_IsSubtype(
                t.as_ptr() as *mut PyTypeObject,
                base.as_ptr() as *mut PyTypeObject,
            ) != 0
    }
}

pub fn is_type(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: type check of a live object.
    unsafe { ffi::PyType_Check(obj.as_ptr()) != 0 }
}

/// Heap types (classes defined in Python) have mutable, shared attributes;
/// static builtin types do not.
pub fn is_heap_type(t: &Bound<'_, PyAny>) -> bool {
    // SAFETY: type checked before reading its flags.
    unsafe {
        ffi::PyType_Check(t.as_ptr()) != 0
            && ffi::PyType_GetFlags(t.as_ptr() as *mut PyTypeObject) & ffi::Py_TPFLAGS_HEAPTYPE != 0
    }
}

// ---------------------------------------------------------------------------
// Installing the trace function.

unsafe extern "C" fn drop_ctx(capsule: *mut PyObject) {
    // SAFETY: the capsule was made by `install` with a Box<ThreadCtx>.
    unsafe {
        let p = ffi::PyCapsule_GetPointer(capsule, std::ptr::null());
        if p.is_null() {
            ffi::PyErr_Clear();
        } else {
            drop(Box::from_raw(p as *mut ThreadCtx));
        }
    }
}

/// Installs the recorder's trace function in the current thread, owning
/// `ctx` (freed when the function is removed or the thread ends).
pub fn install(py: Python<'_>, ctx: ThreadCtx) -> PyResult<()> {
    let p = Box::into_raw(Box::new(ctx)) as *mut c_void;
    // SAFETY: GIL held; the capsule owns the box from here on.
    unsafe {
        let cap = ffi::PyCapsule_New(p, std::ptr::null(), Some(drop_ctx));
        if cap.is_null() {
            drop(Box::from_raw(p as *mut ThreadCtx));
            return Err(PyErr::fetch(py));
        }
        PyEval_SetTrace(Some(trace_callback), cap);
        ffi::Py_DecRef(cap);
    }
    Ok(())
}

/// Installs the trace function in the other threads of the interpreter that
/// run no trace or profile function yet and whose thread id `make_ctx`
/// accepts (it returns the context the function will own), then calls
/// `mark` on each of their running frames. Those threads are blocked (we
/// hold the GIL); `_PyEval_SetTrace` on another thread's state is what
/// later versions' `PyEval_SetTraceAllThreads` does. It may run audit hooks,
/// which could let a thread end, so the list of thread states is walked
/// afresh after each installation (a hooked thread no longer qualifies).
/// `make_ctx` must not run Python code. Returns how many threads were hooked.
pub fn install_in_other_threads(
    py: Python<'_>,
    mut make_ctx: impl FnMut(u64) -> Option<ThreadCtx>,
    mut mark: impl FnMut(Frame<'_>),
) -> PyResult<usize> {
    let mut declined: Vec<u64> = Vec::new();
    let mut frames: Vec<Py<PyAny>> = Vec::new();
    let mut hooked = 0;
    loop {
        // SAFETY: GIL held and no Python code runs between reading the list
        // and using the chosen state; each capsule owns its box.
        let done = unsafe {
            let me = PyThreadState_Get();
            let mut ts = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
            let mut chosen = None;
            while !ts.is_null() {
                #[allow(clippy::unnecessary_cast)] // `c_ulong` is 32 bits on some platforms.
                let tid = (*ts).thread_id as u64;
                if ts != me
                    && (*ts).c_tracefunc.is_null()
                    && (*ts).c_profilefunc.is_null()
                    && !declined.contains(&tid)
                {
                    match make_ctx(tid) {
                        Some(ctx) => {
                            chosen = Some((ts, ctx));
                            break;
                        }
                        None => declined.push(tid),
                    }
                }
                ts = PyThreadState_Next(ts);
            }
            match chosen {
                None => true,
                Some((ts, ctx)) => {
                    // Its frames first: the state is valid until Python runs.
                    let mut cur = PyThreadState_GetFrame(ts);
                    while !cur.is_null() {
                        frames.push(Bound::from_owned_ptr(py, cur as *mut PyObject).unbind());
                        cur = PyFrame_GetBack(cur);
                    }
                    let p = Box::into_raw(Box::new(ctx)) as *mut c_void;
                    let cap = ffi::PyCapsule_New(p, std::ptr::null(), Some(drop_ctx));
                    if cap.is_null() {
                        drop(Box::from_raw(p as *mut ThreadCtx));
                        return Err(PyErr::fetch(py));
                    }
                    let rc = _PyEval_SetTrace(ts, Some(trace_callback), cap);
                    ffi::Py_DecRef(cap);
                    if rc != 0 {
                        return Err(PyErr::fetch(py));
                    }
                    hooked += 1;
                    false
                }
            }
        };
        if done {
            break;
        }
    }
    for frame in &frames {
        with_frame_object(frame.bind(py), &mut mark);
    }
    Ok(hooked)
}

/// The trace function a thread had before recording (a debugger's, a
/// coverage tool's), to be put back when recording stops.
pub struct SavedTrace {
    func: Option<TraceFn>,
    obj: Option<Py<PyAny>>,
}

/// The current thread's trace function and its object.
pub fn save_trace(py: Python<'_>) -> SavedTrace {
    // SAFETY: the current thread state; `c_tracefunc` is a `Py_tracefunc`
    // (same ABI as `TraceFn`, whose frame argument is the same pointer) or
    // null; `c_traceobj` is a strong reference or null.
    unsafe {
        let ts = PyThreadState_Get();
        let raw = (*ts).c_tracefunc;
        let func = if raw.is_null() {
            None
        } else {
            Some(std::mem::transmute::<*mut c_void, TraceFn>(raw))
        };
        let obj = Bound::from_borrowed_ptr_or_opt(py, (*ts).c_traceobj).map(Bound::unbind);
        SavedTrace { func, obj }
    }
}

/// Puts a saved trace function back in the current thread (replacing ours).
pub fn restore_trace(py: Python<'_>, saved: SavedTrace) {
    let obj = saved
        .obj
        .as_ref()
        .map_or(std::ptr::null_mut(), |o| o.bind(py).as_ptr());
    // SAFETY: GIL held; the object is kept alive by `saved` during the call
    // and PyEval_SetTrace takes its own reference.
    unsafe { PyEval_SetTrace(saved.func, obj) };
}

/// Removes whatever trace function the current thread has.
pub fn uninstall() {
    // SAFETY: GIL held (callers are Python functions or trace callbacks).
    unsafe { PyEval_SetTrace(None, std::ptr::null_mut()) };
}

/// Calls `f` on every Python frame of the current thread, innermost first.
pub fn for_each_frame(mut f: impl FnMut(Frame<'_>)) {
    // SAFETY: PyEval_GetFrame returns a borrowed frame; PyFrame_GetBack new
    // references, released after use.
    unsafe {
        let mut cur = PyEval_GetFrame();
        let mut owned = false;
        while !cur.is_null() {
            f(Frame {
                raw: cur,
                _callback: PhantomData,
            });
            let next = PyFrame_GetBack(cur);
            if owned {
                ffi::Py_DecRef(cur as *mut PyObject);
            }
            cur = next;
            owned = true;
        }
    }
}

/// The frame object a Python-level caller passed us (the thread bootstrap
/// hands over the frame it was called for).
pub fn with_frame_object<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(Frame<'_>) -> R) -> Option<R> {
    // SAFETY: type-checked as a frame; kept alive by `obj` during `f`.
    unsafe {
        if ffi::Py_TYPE(obj.as_ptr()) != &raw mut PyFrame_Type {
            return None;
        }
        Some(f(Frame {
            raw: obj.as_ptr() as *mut RawFrame,
            _callback: PhantomData,
        }))
    }
}

unsafe extern "C" fn trace_callback(
    obj: *mut PyObject,
    frame: *mut RawFrame,
    what: c_int,
    arg: *mut PyObject,
) -> c_int {
    let f = Frame {
        raw: frame,
        _callback: PhantomData,
    };
    if what == PYTRACE_OPCODE {
        // The hot path: one pointer read for the table, one for the entry.
        let Some(info) = raw_code_info(f.raw_code()) else {
            return 0;
        };
        let idx = f.instr_index();
        match info.instrs.get(idx) {
            // `x += 1` on a number: the in-place operator cannot mutate it.
            Some(ins)
                if ins.action == Action::InplaceOp && !ins.post_call && f.peek_is_number(1) =>
            {
                return 0
            }
            Some(ins) if !ins.is_quiet() => {}
            _ => return 0,
        }
    } else if what != PYTRACE_CALL && what != PYTRACE_RETURN {
        return 0;
    }
    // SAFETY: the capsule we installed; null name matches a null name.
    let ctx = unsafe {
        let p = ffi::PyCapsule_GetPointer(obj, std::ptr::null());
        if p.is_null() {
            ffi::PyErr_Clear();
            return 0;
        }
        &*(p as *const ThreadCtx)
    };
    // SAFETY: trace functions are called with the GIL held.
    let py = unsafe { Python::assume_attached() };
    if !hook::ctx_is_current(ctx) {
        // Recording stopped (or a new one started): remove ourselves. `ctx`
        // is freed by this call and must not be used afterwards.
        f.set_trace_flags(true, false);
        uninstall();
        return 0;
    }
    let retval = if what == PYTRACE_RETURN {
        // SAFETY: borrowed return value, NULL when unwinding an exception.
        unsafe { Bound::from_borrowed_ptr_or_opt(py, arg) }
    } else {
        None
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match what {
        PYTRACE_OPCODE => hook::on_opcode(py, ctx, f),
        PYTRACE_CALL => hook::on_call(py, ctx, f),
        _ => hook::on_return(py, ctx, f, retval.as_ref()),
    }));
    if result.is_err() {
        hook::internal_error("panic in the trace function");
    }
    // Never let a recorder problem become the program's exception.
    // SAFETY: GIL held.
    unsafe {
        if !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
        }
    }
    if hook::take_abort() {
        // The controlled run was stopped: the actor unwinds, once; what it
        // runs while unwinding is no longer controlled.
        ctx.finished.set(true);
        crate::api::run_aborted().restore(py);
        return -1;
    }
    0
}
