//! CPython 3.11's private struct layouts and the C API entry points the
//! backend calls, declared by hand (pyo3's `ffi` does not expose them). The
//! field orders are the facts listed in the backend's module documentation;
//! [`super::check_layout`] verifies the ones that can be checked at import.

#![allow(dead_code)] // fields exist to give the ones we read their offsets

use std::ffi::{c_char, c_int, c_void};

use pyo3::ffi::{PyObject, PyTypeObject, Py_ssize_t};

pub(super) type TraceFn =
    unsafe extern "C" fn(*mut PyObject, *mut RawFrame, c_int, *mut PyObject) -> c_int;
pub(super) type FreeFn = unsafe extern "C" fn(*mut c_void);

pub(super) const PYTRACE_CALL: c_int = 0;
pub(super) const PYTRACE_RETURN: c_int = 3;
pub(super) const PYTRACE_OPCODE: c_int = 7;

extern "C" {
    pub(super) fn PyEval_SetTrace(func: Option<TraceFn>, obj: *mut PyObject);
    pub(super) fn PyEval_GetFrame() -> *mut RawFrame;
    pub(super) fn PyFrame_GetBack(frame: *mut RawFrame) -> *mut RawFrame;
    pub(super) fn PyCode_Addr2Line(code: *mut PyObject, byte_offset: c_int) -> c_int;
    pub(super) fn _PyEval_RequestCodeExtraIndex(free: Option<FreeFn>) -> Py_ssize_t;
    pub(super) fn _PyCode_SetExtra(
        code: *mut PyObject,
        index: Py_ssize_t,
        extra: *mut c_void,
    ) -> c_int;
    pub(super) fn _PyEval_SetTrace(
        tstate: *mut RawThreadState,
        func: Option<TraceFn>,
        obj: *mut PyObject,
    ) -> c_int;
    pub(super) fn PyThreadState_Get() -> *mut RawThreadState;
    pub(super) fn PyThreadState_GetFrame(tstate: *mut RawThreadState) -> *mut RawFrame;
    pub(super) fn PyThreadState_Next(tstate: *mut RawThreadState) -> *mut RawThreadState;
    pub(super) fn PyInterpreterState_ThreadHead(interp: *mut c_void) -> *mut RawThreadState;
    pub(super) fn PyInterpreterState_Get() -> *mut c_void;
    pub(super) static mut PyMethodDescr_Type: PyTypeObject;
    pub(super) static mut PyCFunction_Type: PyTypeObject;
    pub(super) static mut PyWrapperDescr_Type: PyTypeObject;
    pub(super) static mut PyCode_Type: PyTypeObject;
    pub(super) static mut PyFrame_Type: PyTypeObject;
    pub(super) static mut PyMethod_Type: PyTypeObject;
    pub(super) fn PyMethod_Function(m: *mut PyObject) -> *mut PyObject;
    pub(super) fn PyMethod_Self(m: *mut PyObject) -> *mut PyObject;
}

/// `wrapperobject` (Objects/descrobject.c): a slot wrapper bound to an
/// object (`[].__len__`).
#[repr(C)]
pub(super) struct RawMethodWrapper {
    pub(super) ob_refcnt: Py_ssize_t,
    pub(super) ob_type: *mut PyTypeObject,
    pub(super) descr: *mut PyObject,
    pub(super) self_: *mut PyObject,
}

#[repr(C)]
pub(super) struct RawCode {
    pub(super) ob_refcnt: Py_ssize_t,
    pub(super) ob_type: *mut PyTypeObject,
    pub(super) ob_size: Py_ssize_t,
    pub(super) co_consts: *mut PyObject,
    pub(super) co_names: *mut PyObject,
    pub(super) co_exceptiontable: *mut PyObject,
    pub(super) co_flags: c_int,
    pub(super) co_warmup: i16,
    pub(super) co_linearray_entry_size: i16,
    pub(super) co_argcount: c_int,
    pub(super) co_posonlyargcount: c_int,
    pub(super) co_kwonlyargcount: c_int,
    pub(super) co_stacksize: c_int,
    pub(super) co_firstlineno: c_int,
    pub(super) co_nlocalsplus: c_int,
    pub(super) co_nlocals: c_int,
    pub(super) co_nplaincellvars: c_int,
    pub(super) co_ncellvars: c_int,
    pub(super) co_nfreevars: c_int,
    pub(super) co_localsplusnames: *mut PyObject,
    pub(super) co_localspluskinds: *mut PyObject,
    pub(super) co_filename: *mut PyObject,
    pub(super) co_name: *mut PyObject,
    pub(super) co_qualname: *mut PyObject,
    pub(super) co_linetable: *mut PyObject,
    pub(super) co_weakreflist: *mut PyObject,
    pub(super) co_code_cached: *mut PyObject,
    pub(super) co_linearray: *mut c_char,
    pub(super) co_firsttraceable: c_int,
    pub(super) co_extra: *mut c_void,
    pub(super) co_code_adaptive: [u16; 0],
}

#[repr(C)]
pub(super) struct CodeExtra {
    pub(super) ce_size: Py_ssize_t,
    pub(super) ce_extras: [*mut c_void; 0],
}

#[repr(C)]
pub(super) struct InterpFrame {
    pub(super) f_func: *mut PyObject,
    pub(super) f_globals: *mut PyObject,
    pub(super) f_builtins: *mut PyObject,
    pub(super) f_locals: *mut PyObject,
    pub(super) f_code: *mut RawCode,
    pub(super) frame_obj: *mut RawFrame,
    pub(super) previous: *mut InterpFrame,
    pub(super) prev_instr: *mut u16,
    pub(super) stacktop: c_int,
    pub(super) is_entry: bool,
    pub(super) owner: c_char,
    pub(super) localsplus: [*mut PyObject; 0],
}

pub(super) const FRAME_OWNED_BY_GENERATOR: c_char = 1;

#[repr(C)]
pub(super) struct RawFrame {
    pub(super) ob_refcnt: Py_ssize_t,
    pub(super) ob_type: *mut PyTypeObject,
    pub(super) f_back: *mut RawFrame,
    pub(super) f_frame: *mut InterpFrame,
    pub(super) f_trace: *mut PyObject,
    pub(super) f_lineno: c_int,
    pub(super) f_trace_lines: c_char,
    pub(super) f_trace_opcodes: c_char,
}

#[repr(C)]
pub(super) struct RawMethodDescr {
    pub(super) ob_refcnt: Py_ssize_t,
    pub(super) ob_type: *mut PyTypeObject,
    pub(super) d_type: *mut PyTypeObject,
    pub(super) d_name: *mut PyObject,
    pub(super) d_qualname: *mut PyObject,
    pub(super) d_method: *mut c_void,
}

#[repr(C)]
pub(super) struct RawCFunction {
    pub(super) ob_refcnt: Py_ssize_t,
    pub(super) ob_type: *mut PyTypeObject,
    pub(super) m_ml: *mut c_void,
    pub(super) m_self: *mut PyObject,
}

/// The start of `PyThreadState` (Include/cpython/pystate.h, `struct _ts`),
/// up to the thread id.
#[repr(C)]
pub(super) struct RawThreadState {
    pub(super) prev: *mut RawThreadState,
    pub(super) next: *mut RawThreadState,
    pub(super) interp: *mut c_void,
    pub(super) initialized: c_int,
    pub(super) is_static: c_int,
    pub(super) recursion_remaining: c_int,
    pub(super) recursion_limit: c_int,
    pub(super) recursion_headroom: c_int,
    pub(super) tracing: c_int,
    pub(super) tracing_what: c_int,
    pub(super) cframe: *mut c_void,
    pub(super) c_profilefunc: *mut c_void,
    pub(super) c_tracefunc: *mut c_void,
    pub(super) c_profileobj: *mut PyObject,
    pub(super) c_traceobj: *mut PyObject,
    pub(super) curexc_type: *mut PyObject,
    pub(super) curexc_value: *mut PyObject,
    pub(super) curexc_traceback: *mut PyObject,
    pub(super) exc_info: *mut c_void,
    pub(super) dict: *mut PyObject,
    pub(super) gilstate_counter: c_int,
    pub(super) async_exc: *mut PyObject,
    pub(super) thread_id: std::ffi::c_ulong,
}
