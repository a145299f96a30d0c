//! CPython 3.13's private layouts, instruction set and call shapes: what
//! the `sys.monitoring` backend (`super::monitoring`) needs to know about
//! this one version. The struct reads are in `monitoring`, which relies on
//! the facts below; the only code here is the trashcan protocol.
//!
//! # Facts (CPython 3.13.0; checked at import by `monitoring::check_layout`
//! where they can be)
//!
//! * `_PyInterpreterFrame` (Include/internal/pycore_frame.h):
//!   `f_executable, previous, f_funcobj, f_globals, f_builtins, f_locals,
//!   frame_obj, instr_ptr, int stacktop, uint16_t return_offset, char owner,
//!   PyObject *localsplus[]`. `f_executable` is the code object, except in
//!   `FRAME_OWNED_BY_CSTACK` entry shims (None), which are skipped. The
//!   value stack follows the `co_nlocalsplus` fast locals.
//! * `INSTRUMENTED_INSTRUCTION` (Python/bytecodes.c) calls the
//!   instruction's callback without storing the stack pointer in the frame
//!   (`stacktop` is -1 then), so the depth of the value stack at an
//!   instruction is computed from the bytecode (`monitoring::depth`); the
//!   values live in the frame's memory, which the instruction reads after
//!   the callback.
//! * `instr_ptr` is the instruction being executed: for a frame that called
//!   another, its CALL. A frame is incomplete while `instr_ptr` is before
//!   `_co_firsttraceable` (generators excepted) or it is an entry shim.
//! * `PyThreadState` (Include/cpython/pystate.h): field order as in
//!   [`RawThreadState`] up to `threading_local_sentinel`; `current_frame` is
//!   the running interpreter frame. `threading.local` data no longer lives
//!   in the thread state's dict (Modules/_threadmodule.c): each local
//!   object maps the thread's `threading_local_key` to its data, and the
//!   entries go when the thread's `threading_local_sentinel` dies, which
//!   is what `PyThreadState_Clear` does at a thread's end (clears both).
//! * `PyCodeObject` (Include/cpython/code.h, `_PyCode_DEF`): field order as
//!   in [`RawCode`] (3.13 adds `co_executors`); `co_code` is the
//!   de-specialized, de-instrumented bytecode whose offsets monitoring
//!   events report.
//! * Calls (Python/bytecodes.c): `CALL oparg` finds `[callable,
//!   self_or_NULL, args...]` (the order of 3.12 reversed: the callable is
//!   always below); `CALL_KW oparg` finds `[callable, self_or_NULL,
//!   args..., kwnames]`, the keyword names a tuple on top of the stack
//!   (KW_NAMES is gone); `CALL_FUNCTION_EX` finds `[callable, NULL, args,
//!   kwargs?]`. `LOAD_ATTR`/`LOAD_GLOBAL` keep a flag in the low bit of
//!   their argument.
//! * The trashcan (Include/cpython/object.h, `Py_TRASHCAN_BEGIN` and
//!   `Py_TRASHCAN_END`) is inline code on `tstate->c_recursion_remaining`
//!   and `tstate->delete_later` with `_PyTrash_thread_deposit_object` and
//!   `_PyTrash_thread_destroy_chain` (3.13 no longer exports
//!   `_PyTrash_begin`/`_PyTrash_end`); [`trash_begin`]/[`trash_end`] do
//!   what the macros do.

#![allow(dead_code)] // fields exist to give the ones we read their offsets

pub mod opcodes;

use std::ffi::{c_char, c_int, c_void};

use pyo3::ffi::{PyObject, PyTypeObject, Py_ssize_t};

use crate::codeinfo::{Action, READ_INSTANCES};

pub const VERSION: (u8, u8) = (3, 13);

#[repr(C)]
pub struct RawCode {
    pub ob_refcnt: Py_ssize_t,
    pub ob_type: *mut PyTypeObject,
    pub ob_size: Py_ssize_t,
    pub co_consts: *mut PyObject,
    pub co_names: *mut PyObject,
    pub co_exceptiontable: *mut PyObject,
    pub co_flags: c_int,
    pub co_argcount: c_int,
    pub co_posonlyargcount: c_int,
    pub co_kwonlyargcount: c_int,
    pub co_stacksize: c_int,
    pub co_firstlineno: c_int,
    pub co_nlocalsplus: c_int,
    pub co_framesize: c_int,
    pub co_nlocals: c_int,
    pub co_ncellvars: c_int,
    pub co_nfreevars: c_int,
    pub co_version: u32,
    pub co_localsplusnames: *mut PyObject,
    pub co_localspluskinds: *mut PyObject,
    pub co_filename: *mut PyObject,
    pub co_name: *mut PyObject,
    pub co_qualname: *mut PyObject,
    pub co_linetable: *mut PyObject,
    pub co_weakreflist: *mut PyObject,
    pub co_executors: *mut c_void,
    pub _co_cached: *mut c_void,
    pub _co_instrumentation_version: usize,
    pub _co_monitoring: *mut c_void,
    pub co_firsttraceable: c_int,
    pub co_extra: *mut c_void,
    pub co_code_adaptive: [u16; 0],
}

#[repr(C)]
pub struct InterpFrame {
    pub f_executable: *mut PyObject,
    pub previous: *mut InterpFrame,
    pub f_funcobj: *mut PyObject,
    pub f_globals: *mut PyObject,
    pub f_builtins: *mut PyObject,
    pub f_locals: *mut PyObject,
    pub frame_obj: *mut PyObject,
    pub instr_ptr: *mut u16,
    pub stacktop: c_int,
    pub return_offset: u16,
    pub owner: c_char,
    pub localsplus: [*mut PyObject; 0],
}

pub const FRAME_OWNED_BY_GENERATOR: c_char = 1;
pub const FRAME_OWNED_BY_CSTACK: c_char = 3;

/// The code object of a frame that is not an entry shim.
///
/// # Safety
/// `f` is a live interpreter frame.
#[inline(always)]
pub unsafe fn frame_code(f: *const InterpFrame) -> *mut RawCode {
    // SAFETY: per the contract; f_executable is a strong reference to the
    // frame's code object (shims, whose f_executable is None, are skipped
    // by every caller).
    unsafe { (*f).f_executable as *mut RawCode }
}

/// The instruction a frame executes: for a frame that called another,
/// its CALL.
///
/// # Safety
/// `f` is a live interpreter frame of a code object (not a shim).
#[inline(always)]
pub unsafe fn frame_instr(f: *const InterpFrame) -> *const u16 {
    // SAFETY: per the contract.
    unsafe { (*f).instr_ptr }
}

/// The start of `PyThreadState` (Include/cpython/pystate.h, `struct _ts`)
/// up to the thread id.
#[repr(C)]
pub struct RawThreadState {
    pub prev: *mut RawThreadState,
    pub next: *mut RawThreadState,
    pub interp: *mut c_void,
    pub eval_breaker: usize,
    pub _status: u32,
    pub _whence: c_int,
    pub state: c_int,
    pub py_recursion_remaining: c_int,
    pub py_recursion_limit: c_int,
    pub c_recursion_remaining: c_int,
    pub recursion_headroom: c_int,
    pub tracing: c_int,
    pub what_event: c_int,
    pub current_frame: *mut InterpFrame,
    pub c_profilefunc: *mut c_void,
    pub c_tracefunc: *mut c_void,
    pub c_profileobj: *mut PyObject,
    pub c_traceobj: *mut PyObject,
    pub current_exception: *mut PyObject,
    pub exc_info: *mut c_void,
    pub dict: *mut PyObject,
    pub gilstate_counter: c_int,
    pub async_exc: *mut PyObject,
    pub thread_id: std::ffi::c_ulong,
    pub native_thread_id: std::ffi::c_ulong,
    pub delete_later: *mut PyObject,
    pub critical_section: usize,
    pub coroutine_origin_tracking_depth: c_int,
    pub async_gen_firstiter: *mut PyObject,
    pub async_gen_finalizer: *mut PyObject,
    pub context: *mut PyObject,
    pub context_ver: u64,
    pub id: u64,
    pub datastack_chunk: *mut c_void,
    pub datastack_top: *mut *mut PyObject,
    pub datastack_limit: *mut *mut PyObject,
    pub exc_state: [*mut c_void; 2],
    pub previous_executor: *mut PyObject,
    pub dict_global_version: u64,
    pub threading_local_key: *mut PyObject,
    pub threading_local_sentinel: *mut PyObject,
}

/// The interpreter frame a thread is running.
///
/// # Safety
/// `ts` is a live thread state (GIL held).
#[inline(always)]
pub unsafe fn current_frame(ts: *const RawThreadState) -> *mut InterpFrame {
    // SAFETY: per the contract.
    unsafe { (*ts).current_frame }
}

/// A call's operands: the callable, how many arguments it passes (`self`
/// included when it is the first), how many values sit above the last
/// argument, and how many values the call replaces by its result.
pub struct CallOperands<T> {
    pub callable: T,
    pub total: usize,
    pub above: usize,
    pub operands: usize,
}

/// `CALL oparg` (`[callable, self_or_NULL, args...]`) or, with
/// `kw_on_stack`, `CALL_KW oparg` (`[callable, self_or_NULL, args...,
/// kwnames]`), given the value at each stack position (`None` for NULL).
pub fn call_operands<T>(
    nargs: usize,
    kw_on_stack: bool,
    peek: impl Fn(usize) -> Option<T>,
) -> Option<CallOperands<T>> {
    let above = kw_on_stack as usize;
    let callable = peek(nargs + above + 1)?;
    let total = nargs + peek(nargs + above).is_some() as usize;
    Some(CallOperands {
        callable,
        total,
        above,
        operands: nargs + 2 + above,
    })
}

/// `CALL_FUNCTION_EX`: `[callable, NULL, args, kwargs?]` → the stack
/// positions of the callable and of the argument tuple, and how many
/// values the call replaces.
pub fn call_ex_operands(has_kwargs: bool) -> (usize, usize, usize) {
    let kw = has_kwargs as usize;
    (2 + kw, kw, 3 + kw)
}

/// Whether the keyword names of a call are a constant rather than on the
/// stack (3.13: on the stack, for CALL_KW).
pub const KWNAMES_IN_CONSTS: bool = false;

/// What the recorder does at an instruction, and the argument it needs.
pub fn action_of(opcode: u8, oparg: u32) -> (Action, u32) {
    use opcodes as op;
    let reads = |mask: u32| (Action::ReadOperands, mask);
    let a = match opcode {
        // Container protocols run in C on operands already on the stack
        // (see `Action::ReadOperands`). 3.13 tests truth in TO_BOOL, before
        // the jumps and `not`, which then only see bools; a format spec
        // and a conversion have instructions of their own.
        op::TO_BOOL
        | op::GET_LEN
        | op::UNPACK_SEQUENCE
        | op::UNPACK_EX
        | op::LIST_EXTEND
        | op::SET_UPDATE
        | op::DICT_MERGE
        | op::DICT_UPDATE
        | op::FORMAT_SIMPLE
        | op::CONVERT_VALUE => return reads(TOS),
        op::COMPARE_OP => return reads(TOS | TOS1),
        op::FORMAT_WITH_SPEC => return reads(TOS1),
        op::MATCH_KEYS => return reads(TOS1),
        op::MATCH_CLASS => return reads(TOS2 | READ_INSTANCES),
        op::FOR_ITER => Action::IterStep,
        op::GET_YIELD_FROM_ITER => Action::GetIter,
        // The low bit marks a method load for a call (`obj.m(...)`), which
        // 3.11 compiled to LOAD_METHOD: not an access, as there.
        op::LOAD_ATTR if oparg & 1 == 1 => Action::Invisible,
        op::LOAD_ATTR => return (Action::LoadAttr, oparg >> 1),
        op::STORE_ATTR => Action::StoreAttr,
        op::DELETE_ATTR => Action::DeleteAttr,
        op::BINARY_SUBSCR => Action::BinarySubscr,
        op::STORE_SUBSCR => Action::StoreSubscr,
        op::DELETE_SUBSCR => Action::DeleteSubscr,
        op::BINARY_SLICE => Action::SliceRead,
        op::STORE_SLICE => Action::SliceWrite,
        op::CONTAINS_OP => Action::Contains,
        op::LOAD_GLOBAL => return (Action::LoadGlobal, oparg >> 1),
        op::STORE_GLOBAL => Action::StoreGlobal,
        op::DELETE_GLOBAL => Action::DeleteGlobal,
        op::LOAD_NAME => Action::LoadName,
        op::STORE_NAME => Action::StoreName,
        op::DELETE_NAME => Action::DeleteName,
        op::LOAD_DEREF | op::LOAD_FROM_DICT_OR_DEREF => Action::LoadDeref,
        op::STORE_DEREF => Action::StoreDeref,
        op::CALL | op::CALL_KW => Action::Call,
        op::CALL_FUNCTION_EX => Action::CallEx,
        op::BEFORE_WITH => Action::BeforeWith,
        op::WITH_EXCEPT_START => Action::WithExceptStart,
        op::GET_ITER => Action::GetIter,
        op::BINARY_OP
            if (opcodes::NB_INPLACE_FIRST..=opcodes::NB_INPLACE_LAST).contains(&oparg) =>
        {
            Action::InplaceOp
        }
        op::BINARY_OP => return reads(TOS | TOS1),
        _ => Action::Invisible,
    };
    (a, oparg)
}

/// Operand masks of [`Action::ReadOperands`] (bit `n`: `n` below TOS).
const TOS: u32 = 1;
const TOS1: u32 = 2;
const TOS2: u32 = 4;

/// What goes into `Instr::kw` for the instruction `opcode`: 1 for CALL_KW,
/// whose keyword names are on top of the stack, 0 otherwise.
pub fn note_kwnames(opcode: u8, _oparg: u32, _pending: &mut u32) -> u32 {
    (opcode == opcodes::CALL_KW) as u32
}

/// Instructions after which a pending lock acquire learns its outcome.
pub fn is_call_like(opcode: u8) -> bool {
    matches!(
        opcode,
        opcodes::CALL | opcodes::CALL_KW | opcodes::CALL_FUNCTION_EX | opcodes::BEFORE_WITH
    )
}

/// Instructions that never fall through to the next one.
pub fn is_terminal(opcode: u8) -> bool {
    use opcodes as op;
    matches!(
        opcode,
        op::RETURN_VALUE
            | op::RETURN_CONST
            | op::RAISE_VARARGS
            | op::RERAISE
            | op::JUMP_FORWARD
            | op::JUMP_BACKWARD
            | op::JUMP_BACKWARD_NO_INTERRUPT
    )
}

/// The jump target of `opcode` at `next` (the index after its inline
/// cache), if it jumps.
pub fn jump_target(opcode: u8, oparg: u32, next: usize) -> Option<usize> {
    use opcodes as op;
    if !op::RELATIVE_JUMPS.contains(&opcode) {
        return None;
    }
    if matches!(opcode, op::JUMP_BACKWARD | op::JUMP_BACKWARD_NO_INTERRUPT) {
        next.checked_sub(oparg as usize)
    } else {
        Some(next + oparg as usize)
    }
}

extern "C" {
    fn _PyTrash_thread_deposit_object(tstate: *mut pyo3::ffi::PyThreadState, op: *mut PyObject);
    fn _PyTrash_thread_destroy_chain(tstate: *mut pyo3::ffi::PyThreadState);
}

/// `Py_TRASHCAN_HEADROOM`.
const TRASHCAN_HEADROOM: c_int = 50;

/// `Py_TRASHCAN_BEGIN`: true when the object was put aside, to be freed
/// later (the deallocator must return).
///
/// # Safety
/// GIL held; `op` is being deallocated by `ts`'s thread.
pub unsafe fn trash_begin(ts: *mut pyo3::ffi::PyThreadState, op: *mut PyObject) -> bool {
    // SAFETY: per the contract; the fields are the macro's.
    unsafe {
        let raw = ts as *mut RawThreadState;
        if (*raw).c_recursion_remaining <= TRASHCAN_HEADROOM {
            _PyTrash_thread_deposit_object(ts, op);
            return true;
        }
        (*raw).c_recursion_remaining -= 1;
        false
    }
}

/// `Py_TRASHCAN_END`, after a deallocation that `trash_begin` let run.
///
/// # Safety
/// As [`trash_begin`], paired with it.
pub unsafe fn trash_end(ts: *mut pyo3::ffi::PyThreadState) {
    // SAFETY: per the contract; the fields are the macro's.
    unsafe {
        let raw = ts as *mut RawThreadState;
        (*raw).c_recursion_remaining += 1;
        if !(*raw).delete_later.is_null() && (*raw).c_recursion_remaining > TRASHCAN_HEADROOM * 2 {
            _PyTrash_thread_destroy_chain(ts);
        }
    }
}

/// Forgets the current thread's `threading.local` data as the thread's end
/// does (Python/pystate.c, `PyThreadState_Clear`): drops its key and its
/// sentinel, whose death makes every local object drop this thread's data;
/// the next use of a local makes new ones. Returns 1 if there were any.
pub fn forget_thread_locals(_py: pyo3::Python<'_>) -> pyo3::PyResult<usize> {
    // SAFETY: GIL held; the current thread's state; both fields are strong
    // references or NULL, taken out before they are released (a release
    // may run callbacks, which then see cleared fields).
    unsafe {
        let ts = pyo3::ffi::PyThreadState_Get() as *mut RawThreadState;
        let key = std::mem::replace(&mut (*ts).threading_local_key, std::ptr::null_mut());
        let sentinel = std::mem::replace(&mut (*ts).threading_local_sentinel, std::ptr::null_mut());
        let had = !sentinel.is_null();
        pyo3::ffi::Py_XDECREF(key);
        pyo3::ffi::Py_XDECREF(sentinel);
        Ok(had as usize)
    }
}

extern "C" {
    fn PyThreadState_GetID(tstate: *mut RawThreadState) -> u64;
}

/// Checks the fields of [`RawThreadState`] past `thread_id` on the current
/// thread's state: its `id`, and the exception stack (`exc_info`, a chain
/// of `_PyErr_StackItem`s linked by `previous_item`) ending at `exc_state`.
///
/// # Safety
/// `ts` is the current thread's state, GIL held.
pub unsafe fn check_thread_state(ts: *mut RawThreadState) -> bool {
    // SAFETY: per the contract; the exception stack items are live (each
    // is a frame's or generator's, below the running code).
    unsafe {
        if (*ts).id != PyThreadState_GetID(ts) {
            return false;
        }
        let bottom = &raw const (*ts).exc_state;
        let mut item = (*ts).exc_info as *const [*mut c_void; 2];
        for _ in 0..100_000 {
            if item.is_null() {
                return false;
            }
            if std::ptr::eq(item, bottom) {
                return (*item)[1].is_null();
            }
            item = (*item)[1] as *const [*mut c_void; 2];
        }
        false
    }
}
