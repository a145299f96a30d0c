//! CPython 3.12's private layouts, instruction set and call shapes: what
//! the `sys.monitoring` backend (`super::monitoring`) needs to know about
//! this one version. The struct reads are in `monitoring`, which relies on
//! the facts below; the only code here is the trashcan protocol.
//!
//! # Facts (CPython 3.12.1; checked at import by `monitoring::check_layout`
//! where they can be)
//!
//! * `_PyInterpreterFrame` (Include/internal/pycore_frame.h): `f_code,
//!   previous, f_funcobj, f_globals, f_builtins, f_locals, frame_obj,
//!   prev_instr, int stacktop, uint16_t return_offset, char owner,
//!   PyObject *localsplus[]`. The value stack follows the `co_nlocalsplus`
//!   fast locals.
//! * `INSTRUMENTED_INSTRUCTION` (Python/bytecodes.c) calls the
//!   instruction's callback *without* storing the stack pointer in the
//!   frame (`stacktop` is -1 then, left so by `_PyFrame_GetStackPointer`),
//!   so the depth of the value stack at an instruction is computed from the
//!   bytecode (`monitoring::depth`). The values themselves live in the
//!   frame's memory, which the instruction reads after the callback: a
//!   value replaced there is the one the instruction sees.
//! * A frame that called another has `prev_instr` at the last code unit of
//!   its CALL (`DISPATCH_INLINED` stores `next_instr - 1`, after the inline
//!   cache); a frame is incomplete (not started) while `prev_instr` is
//!   before `_co_firsttraceable` and it is not owned by a generator, and
//!   `FRAME_OWNED_BY_CSTACK` frames are the interpreter's entry shims.
//! * `PyThreadState` (Include/cpython/pystate.h): field order as in
//!   [`RawThreadState`] up to `thread_id`; `cframe->current_frame` is the
//!   running interpreter frame.
//! * `PyCodeObject` (Include/cpython/code.h, `_PyCode_DEF`): field order as
//!   in [`RawCode`]; `co_code` (Python level) is the de-specialized,
//!   de-instrumented bytecode, whose instruction offsets are the ones
//!   monitoring events report.
//! * Calls (Python/bytecodes.c): `CALL oparg` finds `[NULL | method,
//!   callable | self, args...]` (KW_NAMES before it names the last
//!   arguments, a constant tuple); `CALL_FUNCTION_EX` finds `[NULL,
//!   callable, args, kwargs?]`; `LOAD_ATTR` and `LOAD_GLOBAL` keep a flag in
//!   the low bit of their argument (the name index is `oparg >> 1`);
//!   `LOAD_METHOD` is gone (folded into `LOAD_ATTR`).
//! * The trashcan (Include/cpython/object.h, `Py_TRASHCAN_BEGIN`) is still
//!   `_PyTrash_begin`/`_PyTrash_end`, as in 3.11.

#![allow(dead_code)] // fields exist to give the ones we read their offsets

pub mod opcodes;

use std::ffi::{c_char, c_int, c_void};

use pyo3::ffi::{PyObject, PyTypeObject, Py_ssize_t};

use crate::codeinfo::{Action, READ_INSTANCES};

pub const VERSION: (u8, u8) = (3, 12);

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
    pub _co_cached: *mut c_void,
    pub _co_instrumentation_version: u64,
    pub _co_monitoring: *mut c_void,
    pub co_firsttraceable: c_int,
    pub co_extra: *mut c_void,
    pub co_code_adaptive: [u16; 0],
}

#[repr(C)]
pub struct InterpFrame {
    pub f_code: *mut RawCode,
    pub previous: *mut InterpFrame,
    pub f_funcobj: *mut PyObject,
    pub f_globals: *mut PyObject,
    pub f_builtins: *mut PyObject,
    pub f_locals: *mut PyObject,
    pub frame_obj: *mut PyObject,
    pub prev_instr: *mut u16,
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
    // SAFETY: per the contract; f_code is a strong reference.
    unsafe { (*f).f_code }
}

/// Index (in code units) of the instruction a frame executes: for a
/// frame that called another, the last unit of its CALL instruction.
///
/// # Safety
/// `f` is a live interpreter frame of a code object (not a shim).
#[inline(always)]
pub unsafe fn frame_instr(f: *const InterpFrame) -> *const u16 {
    // SAFETY: per the contract.
    unsafe { (*f).prev_instr }
}

/// The start of `PyThreadState` (Include/cpython/pystate.h, `struct _ts`)
/// up to the thread id.
#[repr(C)]
pub struct RawThreadState {
    pub prev: *mut RawThreadState,
    pub next: *mut RawThreadState,
    pub interp: *mut c_void,
    pub _status: u32,
    pub py_recursion_remaining: c_int,
    pub py_recursion_limit: c_int,
    pub c_recursion_remaining: c_int,
    pub recursion_headroom: c_int,
    pub tracing: c_int,
    pub what_event: c_int,
    pub cframe: *mut RawCFrame,
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
}

#[repr(C)]
pub struct RawCFrame {
    pub current_frame: *mut InterpFrame,
    pub previous: *mut RawCFrame,
}

/// The interpreter frame a thread is running.
///
/// # Safety
/// `ts` is a live thread state (GIL held).
#[inline(always)]
pub unsafe fn current_frame(ts: *const RawThreadState) -> *mut InterpFrame {
    // SAFETY: per the contract; `cframe` always points to a live CFrame.
    unsafe {
        let cf = (*ts).cframe;
        if cf.is_null() {
            std::ptr::null_mut()
        } else {
            (*cf).current_frame
        }
    }
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

/// `CALL oparg`: `[NULL | method, callable | self, args...]`, given the
/// value at each stack position (`None` for NULL).
pub fn call_operands<T>(
    nargs: usize,
    _kw_on_stack: bool,
    peek: impl Fn(usize) -> Option<T>,
) -> Option<CallOperands<T>> {
    let (callable, total) = match (peek(nargs + 1), peek(nargs)) {
        (Some(method), _) => (method, nargs + 1),
        (None, Some(callable)) => (callable, nargs),
        (None, None) => return None,
    };
    Some(CallOperands {
        callable,
        total,
        above: 0,
        operands: nargs + 2,
    })
}

/// `CALL_FUNCTION_EX`: `[NULL, callable, args, kwargs?]` → the stack
/// positions of the callable and of the argument tuple, and how many
/// values the call replaces.
pub fn call_ex_operands(has_kwargs: bool) -> (usize, usize, usize) {
    let kw = has_kwargs as usize;
    (1 + kw, kw, 3 + kw)
}

/// Whether the keyword names of a call are a constant (3.12: KW_NAMES
/// before the CALL names a tuple in `co_consts`) rather than on the stack.
pub const KWNAMES_IN_CONSTS: bool = true;

/// What the recorder does at an instruction, and the argument it needs.
pub fn action_of(opcode: u8, oparg: u32) -> (Action, u32) {
    use opcodes as op;
    let reads = |mask: u32| (Action::ReadOperands, mask);
    let a = match opcode {
        // Container protocols run in C on operands already on the stack
        // (see `Action::ReadOperands`; the same as 3.11's, which had the
        // forward/backward jump forms and JUMP_IF_*_OR_POP).
        op::POP_JUMP_IF_FALSE
        | op::POP_JUMP_IF_TRUE
        | op::UNARY_NOT
        | op::GET_LEN
        | op::UNPACK_SEQUENCE
        | op::UNPACK_EX
        | op::LIST_EXTEND
        | op::SET_UPDATE
        | op::DICT_MERGE
        | op::DICT_UPDATE => return reads(TOS),
        op::COMPARE_OP => return reads(TOS | TOS1),
        op::FORMAT_VALUE if oparg & op::FVS_HAVE_SPEC != 0 => return reads(TOS1),
        op::FORMAT_VALUE => return reads(TOS),
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
        op::CALL => Action::Call,
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

/// What goes into `Instr::kw` for the instruction `opcode`: a call gets the
/// index + 1 in `co_consts` of the keyword names a KW_NAMES before it gave
/// (kept in `pending`), 0 without keywords.
pub fn note_kwnames(opcode: u8, oparg: u32, pending: &mut u32) -> u32 {
    match opcode {
        opcodes::KW_NAMES => {
            *pending = oparg + 1;
            0
        }
        opcodes::CALL => std::mem::take(pending),
        _ => 0,
    }
}

/// Instructions after which a pending lock acquire learns its outcome.
pub fn is_call_like(opcode: u8) -> bool {
    matches!(
        opcode,
        opcodes::CALL | opcodes::CALL_FUNCTION_EX | opcodes::BEFORE_WITH
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
    fn _PyTrash_begin(tstate: *mut pyo3::ffi::PyThreadState, op: *mut PyObject) -> c_int;
    fn _PyTrash_end(tstate: *mut pyo3::ffi::PyThreadState);
}

/// `Py_TRASHCAN_BEGIN`: true when the object was put aside, to be freed
/// later (the deallocator must return).
///
/// # Safety
/// GIL held; `op` is being deallocated by `ts`'s thread.
pub unsafe fn trash_begin(ts: *mut pyo3::ffi::PyThreadState, op: *mut PyObject) -> bool {
    // SAFETY: per the contract.
    unsafe { _PyTrash_begin(ts, op) != 0 }
}

/// `Py_TRASHCAN_END`, after a deallocation that `trash_begin` let run.
///
/// # Safety
/// As [`trash_begin`], paired with it.
pub unsafe fn trash_end(ts: *mut pyo3::ffi::PyThreadState) {
    // SAFETY: per the contract.
    unsafe { _PyTrash_end(ts) }
}

/// `threading.local` data lives in the thread state's dict, as in 3.11.
pub fn forget_thread_locals(py: pyo3::Python<'_>) -> pyo3::PyResult<usize> {
    super::forget_thread_local_dicts(py)
}

/// Nothing of [`RawThreadState`] past `thread_id` is read in 3.12.
///
/// # Safety
/// `ts` is the current thread's state, GIL held.
pub unsafe fn check_thread_state(_ts: *mut RawThreadState) -> bool {
    true
}
