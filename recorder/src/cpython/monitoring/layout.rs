//! The struct layouts and C entry points the 3.12+ backend uses: the
//! running version's layouts (`super::super::version`) and the C API
//! declared by hand (pyo3's `ffi` does not expose these), under the names
//! the modules shared with the 3.11 backend (`objects.rs`, `deaths.rs`)
//! expect.

#![allow(dead_code)] // fields exist to give the ones we read their offsets

use std::ffi::{c_int, c_void};

use pyo3::ffi::{PyObject, PyTypeObject, Py_ssize_t};

pub(super) use crate::cpython::version::{
    current_frame, frame_code, frame_instr, InterpFrame, RawCode, RawThreadState,
    FRAME_OWNED_BY_CSTACK, FRAME_OWNED_BY_GENERATOR,
};

pub(super) type FreeFn = unsafe extern "C" fn(*mut c_void);

extern "C" {
    pub(super) fn PyEval_GetFrame() -> *mut RawFrame;
    pub(super) fn PyCode_Addr2Line(code: *mut PyObject, byte_offset: c_int) -> c_int;
    // Renamed `PyUnstable_*` in 3.12 (the old names are header macros).
    #[link_name = "PyUnstable_Eval_RequestCodeExtraIndex"]
    pub(super) fn _PyEval_RequestCodeExtraIndex(free: Option<FreeFn>) -> Py_ssize_t;
    #[link_name = "PyUnstable_Code_SetExtra"]
    pub(super) fn _PyCode_SetExtra(
        code: *mut PyObject,
        index: Py_ssize_t,
        extra: *mut c_void,
    ) -> c_int;
    pub(super) fn PyThreadState_Get() -> *mut RawThreadState;
    pub(super) fn PyThreadState_Next(tstate: *mut RawThreadState) -> *mut RawThreadState;
    pub(super) fn PyInterpreterState_ThreadHead(interp: *mut c_void) -> *mut RawThreadState;
    pub(super) fn PyInterpreterState_Get() -> *mut c_void;
    pub(super) fn PyThread_get_thread_ident() -> std::ffi::c_ulong;
    /// `dis.stack_effect` (Python/compile.c): the stack effect of an
    /// instruction, taking the jump or not.
    pub(super) fn PyCompile_OpcodeStackEffectWithJump(
        opcode: c_int,
        oparg: c_int,
        jump: c_int,
    ) -> c_int;
    pub(super) static mut PyMethodDescr_Type: PyTypeObject;
    pub(super) static mut PyCFunction_Type: PyTypeObject;
    pub(super) static mut PyWrapperDescr_Type: PyTypeObject;
    pub(super) static mut PyCode_Type: PyTypeObject;
    pub(super) static mut PyFrame_Type: PyTypeObject;
    pub(super) static mut PyMethod_Type: PyTypeObject;
    pub(super) fn PyMethod_Function(m: *mut PyObject) -> *mut PyObject;
    pub(super) fn PyMethod_Self(m: *mut PyObject) -> *mut PyObject;
}

/// `wrapperobject` (Objects/descrobject.c, the same in 3.11 to 3.13): a
/// slot wrapper bound to an object (`[].__len__`).
#[repr(C)]
pub(super) struct RawMethodWrapper {
    pub(super) ob_refcnt: Py_ssize_t,
    pub(super) ob_type: *mut PyTypeObject,
    pub(super) descr: *mut PyObject,
    pub(super) self_: *mut PyObject,
}

/// `_PyCodeObjectExtra` (Include/internal/pycore_code.h).
#[repr(C)]
pub(super) struct CodeExtra {
    pub(super) ce_size: Py_ssize_t,
    pub(super) ce_extras: [*mut c_void; 0],
}

/// The start of `PyFrameObject` (Include/internal/pycore_frame.h, `struct
/// _frame`), the same in 3.12 and 3.13 up to `f_frame`.
#[repr(C)]
pub(super) struct RawFrame {
    pub(super) ob_refcnt: Py_ssize_t,
    pub(super) ob_type: *mut PyTypeObject,
    pub(super) f_back: *mut RawFrame,
    pub(super) f_frame: *mut InterpFrame,
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
