//! The objects a test's actors share from the start of an execution, in an
//! order that is the same in every execution.
//!
//! The recorder numbers objects in the order a run first sees them, which
//! depends on the schedule: the lock of a condition may be object 4 in one
//! execution and object 5 in the next, when another actor looked at
//! something else first. The DPOR explorer compares operations of
//! different executions, so it names objects by something every execution
//! agrees on: for an object that exists before the actors run, its place
//! in the list made here, reached from the state `setup` returned and from
//! the threads' closures the same way each time.
//!
//! The walk runs before every execution of an exploration, so it is native
//! (as Python it was a twentieth of an execution of a small program). What
//! it visits, in order:
//!
//! 1. `state` and what it reaches, breadth first: instance attributes (the
//!    object's own `__dict__`, read as `object.__getattribute__` does),
//!    items of lists, tuples and deques, values of dicts, cell contents;
//!    not the members of sets, whose order follows addresses;
//! 2. then for each thread function, its closure cells, bound `self` (not a
//!    module) and `functools.partial` parts, and what they reach;
//! 3. the globals dicts of the thread functions (module globals are keys of
//!    those), then the values at the top level of those modules (not
//!    `__dunder__` names), and what they reach.
//!
//! Values that are never recorded are skipped (see [`Skips`]), and at most
//! [`LIMIT`] objects are listed: a state holding a large structure is
//! named by its first objects (the rest are named as the run meets them).

use std::collections::VecDeque;

use crate::fasthash::IntSet;
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PySet, PyString, PyTuple, PyType};

/// Most objects listed.
pub const LIMIT: usize = 5000;

/// The types whose instances are never recorded (immutable values,
/// definitions), and the containers walked, looked up once.
struct Skips {
    skipped: Vec<Py<PyType>>,
    deque: Py<PyType>,
    cell: Py<PyType>,
    partial: Py<PyType>,
    module: Py<PyType>,
    /// `object.__getattribute__`: an object's own `__dict__`, whatever its
    /// class does with attribute access.
    generic_getattr: Py<PyAny>,
}

static SKIPS: PyOnceLock<Skips> = PyOnceLock::new();

fn skips(py: Python<'_>) -> PyResult<&Skips> {
    SKIPS.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let types = py.import("types")?;
        let mut skipped = Vec::new();
        for name in [
            "NoneType", "bool", "int", "float", "complex", "str", "bytes", "range", "type",
        ] {
            let t = if name == "NoneType" {
                py.None().bind(py).get_type()
            } else {
                builtins.getattr(name)?.cast_into::<PyType>()?
            };
            skipped.push(t.unbind());
        }
        for name in [
            "ModuleType",
            "FunctionType",
            "BuiltinFunctionType",
            "CodeType",
            "MethodWrapperType",
            "WrapperDescriptorType",
            "MethodDescriptorType",
        ] {
            skipped.push(types.getattr(name)?.cast_into::<PyType>()?.unbind());
        }
        let ty = |m: &Bound<'_, PyModule>, n: &str| -> PyResult<Py<PyType>> {
            Ok(m.getattr(n)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Skips {
            skipped,
            deque: ty(&py.import("collections")?, "deque")?,
            cell: ty(&types, "CellType")?,
            partial: ty(&py.import("functools")?, "partial")?,
            module: ty(&types, "ModuleType")?,
            generic_getattr: builtins
                .getattr("object")?
                .getattr("__getattribute__")?
                .unbind(),
        })
    })
}

impl Skips {
    fn skipped(&self, o: &Bound<'_, PyAny>) -> bool {
        let py = o.py();
        let t = o.get_type();
        if self.skipped.iter().any(|s| s.bind(py).is(&t)) {
            return true;
        }
        // The walked containers are what they say they are; anything else
        // is asked as `isinstance` would be (a subclass of int, an object
        // whose `__class__` says it is a function).
        if o.is_exact_instance_of::<PyList>()
            || o.is_exact_instance_of::<PyDict>()
            || o.is_exact_instance_of::<PyTuple>()
        {
            return false;
        }
        // `isinstance` asks `__class__` when the type says no: ask it once,
        // and when it names the type itself, the types are all there is.
        let class = o.getattr_opt(intern!(py, "__class__")).ok().flatten();
        if class.is_none_or(|c| c.is(&t)) {
            return self
                .skipped
                .iter()
                .any(|s| t.is_subclass(s.bind(py)).unwrap_or(false));
        }
        self.skipped
            .iter()
            .any(|s| o.is_instance(s.bind(py)).unwrap_or(false))
    }
}

/// The walk's state: what is listed, in order, and what is left to look
/// into.
struct Walk<'py> {
    skips: &'py Skips,
    out: Vec<Bound<'py, PyAny>>,
    seen: IntSet<usize>,
    todo: VecDeque<Bound<'py, PyAny>>,
}

impl<'py> Walk<'py> {
    fn full(&self) -> bool {
        self.out.len() >= LIMIT
    }

    fn add(&mut self, o: Bound<'py, PyAny>) {
        if self.full() || self.skips.skipped(&o) || !self.seen.insert(o.as_ptr() as usize) {
            return;
        }
        self.out.push(o.clone());
        self.todo.push_back(o);
    }

    fn drain(&mut self) -> PyResult<()> {
        while !self.full() {
            let Some(o) = self.todo.pop_front() else {
                break;
            };
            for child in children(self.skips, &o)? {
                self.add(child);
            }
        }
        Ok(())
    }
}

/// What `o` holds that the walk goes on with (subclasses of the
/// containers are iterated as `list(o)` and `o.values()` would).
fn children<'py>(skips: &Skips, o: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let py = o.py();
    if let Ok(l) = o.cast_exact::<PyList>() {
        return Ok(l.iter().collect());
    }
    if let Ok(t) = o.cast_exact::<PyTuple>() {
        return Ok(t.iter().collect());
    }
    if let Ok(d) = o.cast_exact::<PyDict>() {
        return Ok(d.values().iter().collect());
    }
    if o.is_instance_of::<PyList>()
        || o.is_instance_of::<PyTuple>()
        || o.is_instance(skips.deque.bind(py))?
    {
        return o.try_iter()?.collect();
    }
    if o.is_instance_of::<PyDict>() {
        return o.call_method0("values")?.try_iter()?.collect();
    }
    if o.is_instance_of::<PySet>() || o.is_instance_of::<PyFrozenSet>() {
        return Ok(Vec::new());
    }
    if o.is_instance(skips.cell.bind(py))? {
        return match o.getattr("cell_contents") {
            Ok(v) => Ok(vec![v]),
            Err(e) if e.is_instance_of::<PyValueError>(py) => Ok(Vec::new()), // empty cell
            Err(e) => Err(e),
        };
    }
    let d = match skips
        .generic_getattr
        .bind(py)
        .call1((o, intern!(py, "__dict__")))
    {
        Ok(d) => d,
        Err(e) if e.is_instance_of::<PyAttributeError>(py) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(match d.cast::<PyDict>() {
        Ok(d) => d.values().iter().collect(),
        Err(_) => Vec::new(),
    })
}

/// What a thread function holds: closure cells, bound `self` (not a
/// module), a `functools.partial`'s function, arguments and keywords (and
/// what that function holds).
fn callable_parts<'py>(
    skips: &Skips,
    f: &Bound<'py, PyAny>,
    parts: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<()> {
    let py = f.py();
    // `getattr(f, name, None)`: a missing attribute is no error.
    if let Ok(Some(closure)) = f.getattr_opt(intern!(py, "__closure__")) {
        if let Ok(cells) = closure.cast::<PyTuple>() {
            parts.extend(cells.iter());
        }
    }
    if let Ok(Some(me)) = f.getattr_opt(intern!(py, "__self__")) {
        if !me.is_none() && !me.is_instance(skips.module.bind(py))? {
            parts.push(me);
        }
    }
    if f.is_instance(skips.partial.bind(py))? {
        let func = f.getattr("func")?;
        parts.push(func.clone());
        parts.extend(
            f.getattr("args")?
                .try_iter()?
                .collect::<PyResult<Vec<_>>>()?,
        );
        if let Ok(kw) = f.getattr("keywords")?.cast::<PyDict>() {
            parts.extend(kw.values().iter());
        }
        callable_parts(skips, &func, parts)?;
    }
    Ok(())
}

/// The objects `state` and `threads` share from the start, in the order
/// described in the module's comment.
pub fn shared_objects<'py>(
    state: &Bound<'py, PyAny>,
    threads: &[Bound<'py, PyAny>],
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let py = state.py();
    let skips = skips(py)?;
    let mut walk = Walk {
        skips,
        out: Vec::new(),
        seen: IntSet::default(),
        todo: VecDeque::new(),
    };
    walk.add(state.clone());
    walk.drain()?;
    for f in threads {
        let mut parts = Vec::new();
        callable_parts(skips, f, &mut parts)?;
        for p in parts {
            walk.add(p);
        }
        walk.drain()?;
    }
    let mut namespaces = Vec::new();
    for f in threads {
        let Ok(Some(g)) = f.getattr_opt(intern!(py, "__globals__")) else {
            continue;
        };
        let Ok(g) = g.cast_into::<PyDict>() else {
            continue;
        };
        if walk.seen.insert(g.as_ptr() as usize) {
            walk.out.push(g.clone().into_any());
            namespaces.push(g);
        }
    }
    // Module-level objects (a lock, a list at the top of the test module)
    // exist before the run too; `__builtins__`, `__spec__` and the like are
    // not the program's.
    for g in namespaces {
        // A snapshot, as the walk may run Python code (`isinstance`).
        for item in g.items().iter() {
            let (name, value) = item.extract::<(Bound<'py, PyAny>, Bound<'py, PyAny>)>()?;
            let dunder = name
                .cast::<PyString>()
                .ok()
                .and_then(|s| {
                    s.to_str()
                        .ok()
                        .map(|s| s.starts_with("__") && s.ends_with("__"))
                })
                .unwrap_or(false);
            if !dunder {
                walk.add(value);
            }
        }
        walk.drain()?;
    }
    Ok(walk.out)
}
