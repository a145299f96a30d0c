//! Code objects (our table in their extra slot, names, lines) and the
//! identity of builtin callables and types, read at the C level so that no
//! Python code runs. Shared by the 3.11 and the 3.12+ backends: the
//! structs it reads (`layout`) are each version's.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;

use pyo3::ffi::{self, PyTypeObject};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::layout::*;
use crate::codeinfo::CodeInfo;
use crate::cpython::PythonFunction;

/// Our slot in every code object's extra data; -1 until requested.
pub(super) static EXTRA_INDEX: AtomicIsize = AtomicIsize::new(-1);

// The slot holds one strong count of an `Arc<CodeInfo>`. A table is
// replaced when a new recording starts; a callback in another thread may
// still use the old one (across a Python call that let this thread run), so
// users outside the hot path hold their own count (`Frame::info`).
pub(super) unsafe extern "C" fn free_code_info(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: every non-null value in our slot was made by
        // Arc::into_raw in `set_code_info`; CPython calls this once per value.
        drop(unsafe { Arc::from_raw(p as *const CodeInfo) });
    }
}

/// Our decoded table for a code object, if it has one. Borrowed from the
/// slot: only for code that runs no Python before it is done with it.
#[inline(always)]
pub(super) fn raw_code_info<'a>(code: *const RawCode) -> Option<&'a CodeInfo> {
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
pub(super) fn shared_code_info(code: *const RawCode) -> Option<Arc<CodeInfo>> {
    let p = raw_code_info(code)? as *const CodeInfo;
    // SAFETY: `p` came from Arc::into_raw and the slot still holds its count.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// The table of a code object (not of a running frame), if it has one.
pub fn code_info(code: &Bound<'_, PyAny>) -> Option<Arc<CodeInfo>> {
    if !is_code(code) {
        return None;
    }
    shared_code_info(code.as_ptr() as *const RawCode)
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

/// Whether weak references to `obj` can be made (`PyType_SUPPORTS_WEAKREFS`
/// in Include/internal/pycore_object.h: a non-zero `tp_weaklistoffset`,
/// negative from 3.12 on for classes whose instances keep their weak
/// reference list at a managed, fixed offset), checked without raising.
pub fn supports_weakrefs(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: reading a field of the type of a live object.
    unsafe { (*ffi::Py_TYPE(obj.as_ptr())).tp_weaklistoffset != 0 }
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

/// The type of a bound slot wrapper ("method-wrapper"), found from
/// `[].__len__` when the extension is imported (`find_types`, from
/// `check_layout`, before any run: no Python code runs for it inside an
/// actor): CPython 3.13 no longer exports `_PyMethodWrapper_Type`, and the
/// extension built for it failed to load. A static type: its address never
/// changes. 0 until found (nothing matches).
static METHOD_WRAPPER_TYPE: AtomicUsize = AtomicUsize::new(0);

/// Finds the types the interpreter does not export (at import).
pub(super) fn find_types(py: Python<'_>) -> PyResult<()> {
    let t = pyo3::types::PyList::empty(py)
        .getattr("__len__")?
        .get_type();
    METHOD_WRAPPER_TYPE.store(t.as_ptr() as usize, Ordering::Relaxed);
    Ok(())
}

/// A slot wrapper bound to an object (`[].__len__`, a "method-wrapper"):
/// the address of its slot wrapper descriptor (`list.__len__`, the
/// identity the call table knows) and the object.
pub fn method_wrapper<'py>(callable: &Bound<'py, PyAny>) -> Option<(usize, Bound<'py, PyAny>)> {
    let p = callable.as_ptr();
    let wrapper_type = METHOD_WRAPPER_TYPE.load(Ordering::Relaxed);
    // SAFETY: type check first, then the fields of `wrapperobject`, which
    // holds strong references to both.
    unsafe {
        if wrapper_type == 0 || ffi::Py_TYPE(p) as usize != wrapper_type {
            return None;
        }
        let w = p as *const RawMethodWrapper;
        let this = Bound::from_borrowed_ptr_or_opt(callable.py(), (*w).self_)?;
        Some(((*w).descr as usize, this))
    }
}

/// A function defined in Python, or a method bound to one: the function
/// (its identity for the call table), its code and the bound object.
pub fn python_function<'py>(callable: &Bound<'py, PyAny>) -> Option<PythonFunction<'py>> {
    let py = callable.py();
    let p = callable.as_ptr();
    // SAFETY: type checks before the accessors of each type; the function
    // and method hold strong references to what they return (borrowed).
    unsafe {
        let (func, this) = if ffi::Py_TYPE(p) == &raw mut PyMethod_Type {
            (PyMethod_Function(p), PyMethod_Self(p))
        } else {
            (p, std::ptr::null_mut())
        };
        if func.is_null() || ffi::Py_TYPE(func) != &raw mut ffi::PyFunction_Type {
            return None;
        }
        let code = ffi::PyFunction_GetCode(func);
        Some(PythonFunction {
            function: func as usize,
            code: Bound::from_borrowed_ptr_or_opt(py, code)?,
            this: Bound::from_borrowed_ptr_or_opt(py, this),
        })
    }
}

/// The references to `obj` (its reference count).
pub fn refcount(obj: &Bound<'_, PyAny>) -> isize {
    // SAFETY: a live object.
    unsafe { ffi::Py_REFCNT(obj.as_ptr()) }
}

/// Whether calling `obj` runs Python code of its own class (an instance of
/// a class defined in Python, whose `__call__` is traced or not by its own
/// code), as opposed to a callable implemented in C.
pub fn is_heap_instance(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: the type of a live object.
    unsafe { (*ffi::Py_TYPE(obj.as_ptr())).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE != 0 }
}
