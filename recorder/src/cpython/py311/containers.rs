//! Containers and iterators as the hot path sees them, without running
//! Python: whether a value may be a builtin container (list, dict, set,
//! deque, bytearray, a subclass of one, or a dict view), and which
//! containers one step of an iterator reads.
//!
//! # Facts relied on
//!
//! * `tp_flags` marks list and dict subclasses (`Py_TPFLAGS_LIST_SUBCLASS`,
//!   `Py_TPFLAGS_DICT_SUBCLASS`) and int, tuple, bytes, str subclasses.
//! * Every iterator of a builtin container (list, dict and its views, set,
//!   deque, bytearray, OrderedDict, forward and reversed) is a GC object
//!   whose `tp_traverse` visits the container it iterates (and nothing else
//!   that is a container; a dict item iterator's recycled result is a
//!   tuple), until it is exhausted. C iterators that wrap others
//!   (`enumerate`, `zip`, `map`, `filter`, the `itertools` types) visit the
//!   iterators they wrap, directly or in a tuple. `tp_traverse` only calls
//!   its visit function on each referent: it runs no Python code and does
//!   not change the object (it is what `gc.get_referents` calls).
//! * Iterators defined in Python (heap types) and generators run Python
//!   code for each step, which is traced by itself.
//!
//! The iterator types are looked up once at import ([`init`]) and compared
//! by address; they are static types or types kept alive by their module,
//! so the addresses stay valid.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

use pyo3::ffi::{self, PyObject, PyTypeObject};
use pyo3::prelude::*;

use crate::cpython::IterSources;

/// Types compared against by address.
struct Known {
    deque: usize,
    /// `dict_keys`, `dict_values`, `dict_items` (and OrderedDict's).
    views: Vec<usize>,
    /// Iterators of builtin containers: a step reads the container.
    container_iters: Vec<usize>,
    /// Iterators that read nothing shared (ranges, immutable sequences).
    plain_iters: Vec<usize>,
}

static KNOWN: OnceLock<Known> = OnceLock::new();

/// Looks the types up (at import, from `check_layout`).
pub(super) fn init(py: Python<'_>) -> PyResult<()> {
    if KNOWN.get().is_some() {
        return Ok(());
    }
    let code = r#"
import collections
d, od, q = {1: 1}, collections.OrderedDict({1: 1}), collections.deque([1])
views = [type(d.keys()), type(d.values()), type(d.items()),
         type(od.keys()), type(od.values()), type(od.items())]
container_iters = [type(x) for x in (
    iter([]), reversed([]), iter(d), iter(d.values()), iter(d.items()),
    reversed(d), reversed(d.values()), reversed(d.items()),
    iter(set()), iter(q), reversed(q), iter(bytearray()),
    iter(od), iter(od.values()), iter(od.items()), reversed(od),
    reversed(od.values()), reversed(od.items()))]
plain_iters = [type(x) for x in (
    iter(range(1)), iter(range(1 << 70)), iter(()), iter(""), iter(b""),
    iter(frozenset()))]
deque = collections.deque
"#;
    let globals = pyo3::types::PyDict::new(py);
    py.run(&std::ffi::CString::new(code)?, Some(&globals), None)?;
    let addrs = |name: &str| -> PyResult<Vec<usize>> {
        let list = globals
            .get_item(name)?
            .ok_or_else(|| pyo3::exceptions::PyImportError::new_err(name.to_owned()))?;
        let mut v: Vec<usize> = Vec::new();
        for t in list.try_iter()? {
            let t = t?;
            // The types live as long as the interpreter (builtins) or
            // their module (`_collections`), which is never unloaded.
            v.push(t.as_ptr() as usize);
        }
        v.sort_unstable();
        v.dedup();
        Ok(v)
    };
    let deque = globals
        .get_item("deque")?
        .ok_or_else(|| pyo3::exceptions::PyImportError::new_err("deque"))?;
    let known = Known {
        deque: deque.as_ptr() as usize,
        views: addrs("views")?,
        container_iters: addrs("container_iters")?,
        plain_iters: addrs("plain_iters")?,
    };
    let _ = KNOWN.set(known);
    // Check the fact this module relies on: traversing a list iterator
    // visits the list.
    let l = pyo3::types::PyList::new(py, [1])?;
    let it = l.try_iter()?;
    let found = iteration_sources(it.as_any());
    if found.iter().next().map(|b| b.as_ptr()) != Some(l.as_ptr()) {
        return Err(pyo3::exceptions::PyImportError::new_err(
            "racetrace: this CPython 3.11 build traverses list iterators unexpectedly",
        ));
    }
    Ok(())
}

fn known() -> Option<&'static Known> {
    KNOWN.get()
}

const NOT_CONTAINER_FLAGS: std::ffi::c_ulong = ffi::Py_TPFLAGS_LONG_SUBCLASS
    | ffi::Py_TPFLAGS_TUPLE_SUBCLASS
    | ffi::Py_TPFLAGS_BYTES_SUBCLASS
    | ffi::Py_TPFLAGS_UNICODE_SUBCLASS
    | ffi::Py_TPFLAGS_BASE_EXC_SUBCLASS
    | ffi::Py_TPFLAGS_TYPE_SUBCLASS;

/// Whether `p` may be a builtin container or a dict view (a few flag and
/// pointer tests; a heap type is checked against set, deque and bytearray
/// by its MRO). With `instances`, any instance of a class defined in
/// Python as well.
///
/// # Safety
/// `p` is a live object (GIL held).
#[inline]
pub(super) unsafe fn may_be_container_ptr(p: *mut PyObject, instances: bool) -> bool {
    // SAFETY: reading the type and its flags of a live object.
    unsafe {
        let t = ffi::Py_TYPE(p);
        let flags = (*t).tp_flags;
        if flags & (ffi::Py_TPFLAGS_LIST_SUBCLASS | ffi::Py_TPFLAGS_DICT_SUBCLASS) != 0 {
            return true;
        }
        if flags & NOT_CONTAINER_FLAGS != 0 {
            return false;
        }
        if t == &raw mut ffi::PySet_Type || t == &raw mut ffi::PyByteArray_Type {
            return true;
        }
        let Some(k) = known() else { return false };
        let ta = t as usize;
        if ta == k.deque || k.views.contains(&ta) {
            return true;
        }
        if flags & ffi::Py_TPFLAGS_HEAPTYPE == 0 {
            return false;
        }
        instances
            || ffi::PyType_IsSubtype(t, &raw mut ffi::PySet_Type) != 0
            || ffi::PyType_IsSubtype(t, &raw mut ffi::PyByteArray_Type) != 0
            || ffi::PyType_IsSubtype(t, k.deque as *mut PyTypeObject) != 0
    }
}

/// Whether `obj` may be a builtin container or a dict view.
pub fn may_be_container(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: a live object.
    unsafe { may_be_container_ptr(obj.as_ptr(), false) }
}

/// What kind of iterator a type is, for one step of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IterKind {
    /// A builtin container's iterator: reads the container.
    Container,
    /// A C iterator that may wrap others.
    Wrapper,
    /// Reads nothing shared, or runs Python code (traced by itself).
    Nothing,
}

/// # Safety
/// `t` is a live type object.
#[inline]
unsafe fn iter_kind(t: *mut PyTypeObject) -> IterKind {
    let Some(k) = known() else {
        return IterKind::Nothing;
    };
    let ta = t as usize;
    if k.container_iters.contains(&ta) {
        return IterKind::Container;
    }
    // SAFETY: fields of a live type object.
    unsafe {
        if k.plain_iters.contains(&ta)
            || (*t).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE != 0
            || (*t).tp_traverse.is_none()
            || (*t).tp_iternext.is_none()
            || t == &raw mut ffi::PyGen_Type
            || t == &raw mut ffi::PyCoro_Type
            || t == &raw mut ffi::PyAsyncGen_Type
        {
            return IterKind::Nothing;
        }
    }
    IterKind::Wrapper
}

/// Whether one step of the iterator `p` may read a container (the hot
/// path's filter before [`iteration_sources`]).
///
/// # Safety
/// `p` is a live object (GIL held).
#[inline]
pub(super) unsafe fn step_may_read_ptr(p: *mut PyObject) -> bool {
    // SAFETY: the type of a live object.
    unsafe { iter_kind(ffi::Py_TYPE(p)) != IterKind::Nothing }
}

/// At most this many referents of one object are looked at.
const MAX_REFERENTS: usize = 8;
/// How deep wrappers are followed (`enumerate(zip(a, b))` is 2).
const MAX_DEPTH: u32 = 3;

struct Referents {
    items: [*mut PyObject; MAX_REFERENTS],
    n: usize,
}

unsafe extern "C" fn collect(o: *mut PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Referents` passed by `referents` below, alive
    // for the duration of the traversal.
    let r = unsafe { &mut *(arg as *mut Referents) };
    if !o.is_null() && r.n < MAX_REFERENTS {
        r.items[r.n] = o;
        r.n += 1;
    }
    0
}

/// The objects `p`'s `tp_traverse` visits (the first `MAX_REFERENTS`).
///
/// # Safety
/// `p` is a live object whose type has a `tp_traverse` (GIL held).
unsafe fn referents(p: *mut PyObject) -> Referents {
    let mut r = Referents {
        items: [std::ptr::null_mut(); MAX_REFERENTS],
        n: 0,
    };
    // SAFETY: see the module facts: traversal only calls `collect`.
    unsafe {
        if let Some(tr) = (*ffi::Py_TYPE(p)).tp_traverse {
            tr(p, collect, &mut r as *mut Referents as *mut c_void);
        }
    }
    r
}

/// The containers that one step (`__next__`) of the iterator `it` reads:
/// the container of a builtin container iterator, or those of the
/// iterators a C wrapper (`enumerate`, `zip`, ...) steps through. Empty for
/// an exhausted iterator and for iterators that read nothing shared.
pub fn iteration_sources<'py>(it: &Bound<'py, PyAny>) -> IterSources<'py> {
    let mut out = IterSources::default();
    // SAFETY: a live object, GIL held.
    unsafe { walk(it.py(), it.as_ptr(), 0, &mut out) };
    out
}

/// # Safety
/// `p` is a live object (GIL held).
unsafe fn walk<'py>(py: Python<'py>, p: *mut PyObject, depth: u32, out: &mut IterSources<'py>) {
    // SAFETY: `p` and its referents are live while we hold the GIL and run
    // no Python code.
    unsafe {
        match iter_kind(ffi::Py_TYPE(p)) {
            IterKind::Nothing => {}
            IterKind::Container => {
                let r = referents(p);
                for &o in &r.items[..r.n] {
                    if may_be_container_ptr(o, false) {
                        // SAFETY: a live referent of a live iterator.
                        out.push(Bound::from_borrowed_ptr(py, o));
                    }
                }
            }
            IterKind::Wrapper if depth < MAX_DEPTH => {
                let r = referents(p);
                for &o in &r.items[..r.n] {
                    if ffi::PyTuple_CheckExact(o) != 0 {
                        // `zip`'s iterators, `map`'s, `itertools.chain`'s.
                        let n = ffi::PyTuple_GET_SIZE(o).min(MAX_REFERENTS as isize);
                        for i in 0..n {
                            let item = ffi::PyTuple_GET_ITEM(o, i);
                            if !item.is_null() && step_may_read_ptr(item) {
                                walk(py, item, depth + 1, out);
                            }
                        }
                    } else if step_may_read_ptr(o) {
                        walk(py, o, depth + 1, out);
                    }
                }
            }
            IterKind::Wrapper => {}
        }
    }
}
