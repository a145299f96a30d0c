//! What kind of thing an object is (shared state, a synchronization
//! primitive, or something immutable that is never recorded), and how
//! reports name it. Both are decided at first sight and cached in the session.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};
use racetrace_formats::ObjKind;

use crate::cpython::{self, Scope};

/// Type objects the classification compares against, imported once.
struct Types {
    skip: Vec<Py<PyAny>>,
    module: Py<PyAny>,
    cell: Py<PyAny>,
    list: Py<PyAny>,
    dict: Py<PyAny>,
    set: Py<PyAny>,
    deque: Py<PyAny>,
    bytearray: Py<PyAny>,
    lock: Py<PyAny>,
    rlock: Py<PyAny>,
    semaphore: Py<PyAny>,
    event: Py<PyAny>,
    condition: Py<PyAny>,
    barrier: Py<PyAny>,
    queue: Py<PyAny>,
    simple_queue: Py<PyAny>,
    thread: Py<PyAny>,
    thread_local: Py<PyAny>,
    function: Py<PyAny>,
    builtin: Py<PyAny>,
    str_type: Py<PyAny>,
    int_type: Py<PyAny>,
    /// float, bool, bytes, complex.
    scalars: Vec<Py<PyAny>>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let b = py.import("builtins")?;
        let t = py.import("types")?;
        let threading = py.import("threading")?;
        let get = |m: &Bound<'_, PyModule>, n: &str| -> PyResult<Py<PyAny>> {
            Ok(m.getattr(n)?.unbind())
        };
        let mut skip = Vec::new();
        for n in [
            "int",
            "float",
            "complex",
            "str",
            "bytes",
            "tuple",
            "frozenset",
            "bool",
            "range",
            "slice",
            "memoryview",
            "property",
            "staticmethod",
            "classmethod",
        ] {
            skip.push(get(&b, n)?);
        }
        for n in [
            "NoneType",
            "CodeType",
            "FunctionType",
            "BuiltinFunctionType",
            "MethodType",
            "MethodDescriptorType",
            "WrapperDescriptorType",
            "MethodWrapperType",
            "MappingProxyType",
            "GeneratorType",
            "CoroutineType",
            "FrameType",
            "TracebackType",
            "EllipsisType",
            "GetSetDescriptorType",
            "MemberDescriptorType",
        ] {
            skip.push(get(&t, n)?);
        }
        Ok::<_, PyErr>(Types {
            skip,
            module: get(&t, "ModuleType")?,
            cell: get(&t, "CellType")?,
            list: get(&b, "list")?,
            dict: get(&b, "dict")?,
            set: get(&b, "set")?,
            deque: get(&py.import("collections")?, "deque")?,
            bytearray: get(&b, "bytearray")?,
            lock: py.import("_thread")?.getattr("LockType")?.unbind(),
            rlock: py.import("_thread")?.getattr("RLock")?.unbind(),
            semaphore: get(&threading, "Semaphore")?,
            event: get(&threading, "Event")?,
            condition: get(&threading, "Condition")?,
            barrier: get(&threading, "Barrier")?,
            queue: py.import("queue")?.getattr("Queue")?.unbind(),
            simple_queue: py.import("queue")?.getattr("SimpleQueue")?.unbind(),
            thread: get(&threading, "Thread")?,
            thread_local: py.import("_thread")?.getattr("_local")?.unbind(),
            function: get(&t, "FunctionType")?,
            builtin: get(&t, "BuiltinFunctionType")?,
            str_type: get(&b, "str")?,
            int_type: get(&b, "int")?,
            scalars: vec![
                get(&b, "float")?,
                get(&b, "bool")?,
                get(&b, "bytes")?,
                get(&b, "complex")?,
            ],
        })
    })
}

/// Prepares the type table (called when recording starts, outside any hook).
pub fn init(py: Python<'_>) -> PyResult<()> {
    types(py).map(|_| ())
}

/// The recorder's view of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Immutable or otherwise never shared state: not recorded.
    Skip,
    Module,
    /// A class: its attributes are shared state.
    Type,
    Cell,
    Instance,
    Container(ObjKind),
    Sync(ObjKind),
    Thread,
}

impl Class {
    pub fn obj_kind(self) -> ObjKind {
        match self {
            Class::Skip => ObjKind::Other,
            Class::Module => ObjKind::Module,
            Class::Type | Class::Instance => ObjKind::Instance,
            Class::Cell => ObjKind::Cell,
            Class::Container(k) | Class::Sync(k) => k,
            Class::Thread => ObjKind::ActorHandle,
        }
    }
}

/// Whether `obj` is never recorded, by exact type (cheap: a few pointer
/// comparisons, used before any lookup for transient values).
pub fn is_immutable(py: Python<'_>, obj: &Bound<'_, PyAny>) -> bool {
    let Ok(ty) = types(py) else { return true };
    let t = obj.get_type();
    let tp = t.as_ptr();
    ty.skip.iter().any(|s| s.as_ptr() == tp)
}

pub fn classify(py: Python<'_>, obj: &Bound<'_, PyAny>) -> Class {
    let Ok(ty) = types(py) else {
        return Class::Skip;
    };
    let t = obj.get_type();
    let t = t.as_any();
    let tp = t.as_ptr();
    if ty.skip.iter().any(|s| s.as_ptr() == tp) {
        return Class::Skip;
    }
    let is = |base: &Py<PyAny>| tp == base.as_ptr() || cpython::type_is_subtype(t, base.bind(py));
    if is(&ty.module) {
        return Class::Module;
    }
    if is(&ty.thread_local) {
        // `threading.local`: every thread sees its own attributes.
        return Class::Skip;
    }
    if cpython::is_type(obj) {
        return if cpython::is_heap_type(obj) {
            Class::Type
        } else {
            Class::Skip
        };
    }
    if tp == ty.cell.as_ptr() {
        return Class::Cell;
    }
    if tp == ty.function.as_ptr() || tp == ty.builtin.as_ptr() {
        return Class::Skip;
    }
    let containers = [
        (&ty.list, ObjKind::List),
        (&ty.dict, ObjKind::Dict),
        (&ty.set, ObjKind::Set),
        (&ty.deque, ObjKind::Deque),
        (&ty.bytearray, ObjKind::ByteArray),
    ];
    for (base, kind) in containers {
        if is(base) {
            return Class::Container(kind);
        }
    }
    let syncs = [
        (&ty.lock, ObjKind::Lock),
        (&ty.rlock, ObjKind::RLock),
        (&ty.semaphore, ObjKind::Semaphore),
        (&ty.event, ObjKind::Event),
        (&ty.condition, ObjKind::Condition),
        (&ty.barrier, ObjKind::Barrier),
        (&ty.queue, ObjKind::Queue),
        (&ty.simple_queue, ObjKind::Queue),
    ];
    for (base, kind) in syncs {
        if is(base) {
            return Class::Sync(kind);
        }
    }
    if is(&ty.thread) {
        return Class::Thread;
    }
    Class::Instance
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

/// A readable label: classes and modules by name, instances by class name,
/// containers and primitives by the variable that holds them where the
/// access happens (a local, an attribute of `self`, a global).
pub fn label(
    py: Python<'_>,
    frame: Option<&dyn Scope>,
    obj: &Bound<'_, PyAny>,
    class: Class,
) -> String {
    match class {
        Class::Type => obj
            .getattr("__qualname__")
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| type_name(obj)),
        Class::Module => obj
            .getattr("__name__")
            .and_then(|n| n.extract::<String>())
            .map(|n| format!("module {n}"))
            .unwrap_or_else(|_| "module".into()),
        Class::Instance | Class::Skip | Class::Cell => type_name(obj),
        Class::Container(_) | Class::Sync(_) | Class::Thread => frame
            .and_then(|f| find_name(py, f, obj))
            .unwrap_or_else(|| type_name(obj)),
    }
}

/// Label of a module's globals dict: `module NAME`.
pub fn globals_label(globals: &Bound<'_, PyAny>) -> String {
    globals
        .cast::<PyDict>()
        .ok()
        .and_then(|d| d.get_item("__name__").ok().flatten())
        .and_then(|n| n.extract::<String>().ok())
        .map(|n| format!("module {n}"))
        .unwrap_or_else(|| "module".into())
}

fn find_name(py: Python<'_>, f: &dyn Scope, obj: &Bound<'_, PyAny>) -> Option<String> {
    let code = f.scope_code(py);
    let names: Option<Bound<'_, PyTuple>> = cpython::code_localsplusnames(&code);
    let mut self_obj = None;
    if let Some(names) = &names {
        for i in 0..f.scope_len() {
            let Some(v) = f.scope_local(py, i) else {
                continue;
            };
            let v = if classify_is_cell(py, &v) {
                match v.getattr("cell_contents") {
                    Ok(c) => c,
                    Err(_) => continue,
                }
            } else {
                v
            };
            if i == 0 {
                self_obj = Some(v.clone());
            }
            if v.is(obj) {
                if let Ok(n) = names.get_item(i) {
                    return Some(n.to_string());
                }
            }
        }
    }
    // An attribute of `self` (the first argument) or of its class:
    // `Worker.items`.
    if let Some(s) = self_obj {
        let class = if cpython::is_type(&s) {
            s.clone()
        } else {
            s.get_type().into_any()
        };
        for holder in [&s, &class] {
            let Ok(d) = holder.getattr("__dict__") else {
                continue;
            };
            // A class's __dict__ is a mappingproxy: iterate its items.
            let Ok(items) = d.call_method0("items") else {
                continue;
            };
            let Ok(iter) = items.try_iter() else { continue };
            for pair in iter.flatten() {
                if let Ok((k, v)) = pair.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>() {
                    if v.is(obj) {
                        return Some(format!("{}.{}", class_name(&class), k));
                    }
                }
            }
        }
    }
    if let Some(g) = f.scope_globals(py) {
        if let Ok(d) = g.cast::<PyDict>() {
            for (k, v) in d.iter() {
                if v.is(obj) {
                    return Some(k.to_string());
                }
            }
        }
    }
    None
}

fn class_name(class: &Bound<'_, PyAny>) -> String {
    class
        .getattr("__name__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "object".into())
}

fn classify_is_cell(py: Python<'_>, v: &Bound<'_, PyAny>) -> bool {
    types(py)
        .map(|t| v.get_type().as_ptr() == t.cell.as_ptr())
        .unwrap_or(false)
}

/// Values of globals that are definitions rather than data (modules,
/// classes, functions): reading them is not recorded, which keeps every
/// `threading.Thread(...)` or call of a module-level function out of the trace.
pub fn is_definition(py: Python<'_>, v: &Bound<'_, PyAny>) -> bool {
    let Ok(ty) = types(py) else { return false };
    let tp = v.get_type().as_ptr();
    tp == ty.module.as_ptr()
        || tp == ty.function.as_ptr()
        || tp == ty.builtin.as_ptr()
        || cpython::is_type(v)
}

/// Text for a subscript key: `'k'`, `3`, `(1, 'a')`. Only builtin scalars
/// (and tuples of them) are shown by `repr`; other keys are named by type
/// and hash (equal keys have equal hashes, and the container hashed the key
/// anyway), so no user `__repr__` runs inside the trace function. Long texts
/// are cut, with a digest of the whole text so that distinct keys stay
/// distinct.
pub fn key_text(py: Python<'_>, key: &Bound<'_, PyAny>) -> String {
    const MAX: usize = 40;
    let text = if let Ok(s) = key.cast::<PyString>() {
        format!("'{}'", s.to_string_lossy())
    } else if is_scalar(py, key)
        || key.cast::<PyTuple>().is_ok_and(|t| {
            t.iter()
                .all(|e| is_scalar(py, &e) || e.is_instance_of::<PyString>())
        })
    {
        key.repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| format!("<{}>", type_name(key)))
    } else {
        match key.hash() {
            Ok(h) => format!("<{} #{:x}>", type_name(key), h as u64 & 0xff_ffff),
            Err(_) => format!("<{}>", type_name(key)),
        }
    };
    if text.chars().count() <= MAX {
        return text;
    }
    let digest = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let cut: String = text.chars().take(MAX - 8).collect();
    format!("{cut}…#{:06x}", digest & 0xff_ffff)
}

/// Builtin scalars whose `repr` is plain C code: numbers, bytes, None.
fn is_scalar(py: Python<'_>, v: &Bound<'_, PyAny>) -> bool {
    let Ok(ty) = types(py) else { return false };
    let tp = v.get_type().as_ptr();
    v.is_none() || tp == ty.int_type.as_ptr() || ty.scalars.iter().any(|t| t.as_ptr() == tp)
}

/// A subscript key that cannot be a different object at the same address
/// during the recording: a string (the caller keeps it alive) or a small
/// non-negative int (interpreter singletons; negative indexes depend on the
/// sequence's length, so they are never cached).
pub fn is_stable_key(py: Python<'_>, key: &Bound<'_, PyAny>) -> bool {
    let Ok(ty) = types(py) else { return false };
    let tp = key.get_type().as_ptr();
    if tp == ty.str_type.as_ptr() {
        return true;
    }
    tp == ty.int_type.as_ptr() && matches!(key.extract::<i64>(), Ok(0..=256))
}
