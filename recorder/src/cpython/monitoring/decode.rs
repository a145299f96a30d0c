//! Turns a code object's de-specialized bytecode (`co_code`) into the
//! table the hook indexes by code unit (as `py311/decode.rs` does for
//! 3.11), with one addition: the depth of the value stack before each
//! instruction.
//!
//! # Why the depth is computed
//!
//! 3.12 and 3.13 call an INSTRUCTION callback without storing the stack
//! pointer in the frame (see the version module), so the operands of an
//! instruction cannot be found from the frame alone. The depth before an
//! instruction is, however, a property of the bytecode: the compiler
//! guarantees that every path reaching an instruction does so with the
//! same depth (Python/flowgraph.c, `stackdepth`). It is found by following
//! the control flow from the entry (depth 0) and from each exception
//! handler (its depth in `co_exceptiontable`, plus the saved instruction
//! offset when `lasti` is set, plus the exception), adding each
//! instruction's effect as the compiler computes it
//! (`PyCompile_OpcodeStackEffectWithJump`, the function behind
//! `dis.stack_effect`). One adjustment: RETURN_GENERATOR, at the start of
//! generator code, leaves the value sent by the first `send` on the stack
//! for the POP_TOP after it (the compiler inserts this prefix after
//! computing depths, and counts RETURN_GENERATOR as 0). A code object whose
//! depths disagree (hand-made bytecode) gets no depths: its operands are
//! then unknown, never guessed.

use pyo3::prelude::*;

use super::layout::PyCompile_OpcodeStackEffectWithJump;
use crate::codeinfo::{Action, Instr, UNKNOWN_DEPTH};
use crate::cpython::version::{self as v, opcodes as op};

/// The table of a code object's bytecode.
pub fn decode(code: &Bound<'_, PyAny>) -> Box<[Instr]> {
    let bytes = bytes_attr(code, "co_code");
    let table = bytes_attr(code, "co_exceptiontable");
    decode_units(&bytes, &table)
}

/// [`decode`], keeping only what a controlled run intercepts: calls and
/// `with` statements, and the instructions after them.
pub fn decode_intercept(code: &Bound<'_, PyAny>) -> Box<[Instr]> {
    let mut t = decode(code);
    for ins in t.iter_mut() {
        if !matches!(
            ins.action,
            Action::Call | Action::CallEx | Action::BeforeWith | Action::WithExceptStart
        ) {
            ins.action = Action::Invisible;
        }
    }
    t
}

fn bytes_attr(code: &Bound<'_, PyAny>, name: &str) -> Vec<u8> {
    code.getattr(name)
        .and_then(|b| b.extract())
        .unwrap_or_default()
}

/// One instruction of the bytecode.
#[derive(Clone, Copy)]
struct Op {
    opcode: u8,
    oparg: u32,
    /// Index after its inline cache.
    next: usize,
}

pub(super) fn decode_units(code: &[u8], exception_table: &[u8]) -> Box<[Instr]> {
    let n = code.len() / 2;
    let mut table: Vec<Instr> = (0..n).map(|_| Instr::default()).collect();
    let mut ops: Vec<Option<Op>> = vec![None; n];
    let mut i = 0;
    let mut ext: u32 = 0;
    let mut mark_next = false;
    let mut kw: u32 = 0;
    while i < n {
        let opcode = code[2 * i];
        let raw = code[2 * i + 1] as u32;
        if opcode == op::EXTENDED_ARG {
            // The interpreter reports an instruction event for the prefix
            // and another for the instruction itself, which carries the
            // action.
            ext = (ext << 8) | raw;
            ops[i] = Some(Op {
                opcode,
                oparg: raw,
                next: i + 1,
            });
            i += 1;
            continue;
        }
        let oparg = if opcode >= op::HAVE_ARGUMENT {
            (ext << 8) | raw
        } else {
            0
        };
        ext = 0;
        let next = i + 1 + op::CACHE_ENTRIES[opcode as usize] as usize;
        ops[i] = Some(Op {
            opcode,
            oparg,
            next,
        });
        let slot = &mut table[i];
        if mark_next {
            slot.post_call = true;
            mark_next = false;
        }
        let (action, arg) = v::action_of(opcode, oparg);
        slot.action = action;
        slot.arg = arg;
        slot.kw = v::note_kwnames(opcode, oparg, &mut kw);
        if v::is_call_like(opcode) {
            mark_next = true;
        }
        i = next;
    }
    if !stack_depths(&ops, exception_table, &mut table) {
        for ins in table.iter_mut() {
            ins.depth = UNKNOWN_DEPTH;
        }
    }
    table.into_boxed_slice()
}

/// Fills `depth` of every reachable instruction; false when the bytecode
/// reaches an instruction with two different depths (or a negative one).
fn stack_depths(ops: &[Option<Op>], exception_table: &[u8], table: &mut [Instr]) -> bool {
    let n = ops.len();
    let mut depth: Vec<i32> = vec![-1; n];
    let mut work: Vec<(usize, i32)> = vec![(0, 0)];
    for h in handlers(exception_table) {
        work.push((h.target, h.depth as i32 + h.lasti as i32 + 1));
    }
    while let Some((start, d)) = work.pop() {
        let (mut i, mut d) = (start, d);
        while i < n {
            if depth[i] >= 0 {
                if depth[i] != d {
                    return false;
                }
                break;
            }
            if d < 0 {
                return false;
            }
            depth[i] = d;
            let Some(o) = ops[i] else { return false };
            if o.opcode == op::EXTENDED_ARG {
                i = o.next;
                continue;
            }
            if let Some(t) = v::jump_target(o.opcode, o.oparg, o.next) {
                work.push((t, d + effect(o, true)));
            }
            if v::is_terminal(o.opcode) {
                break;
            }
            d = if o.opcode == op::RETURN_GENERATOR {
                1
            } else {
                d + effect(o, false)
            };
            i = o.next;
        }
    }
    for (ins, &d) in table.iter_mut().zip(&depth) {
        ins.depth = if d >= 0 && d < UNKNOWN_DEPTH as i32 {
            d as u16
        } else {
            UNKNOWN_DEPTH
        };
    }
    true
}

fn effect(o: Op, jump: bool) -> i32 {
    let arg = if o.opcode >= op::HAVE_ARGUMENT {
        o.oparg as i32
    } else {
        0
    };
    // SAFETY: a pure function of its integer arguments (it only reads
    // static tables); an unknown opcode gives a sentinel far out of range.
    let e = unsafe { PyCompile_OpcodeStackEffectWithJump(o.opcode as i32, arg, jump as i32) };
    if e.abs() > 1 << 16 {
        // PY_INVALID_STACK_EFFECT: makes the depth negative, so the
        // table gets no depths at all.
        return -(1 << 20);
    }
    e
}

/// An entry of `co_exceptiontable` (Objects/exception_handling_notes.txt):
/// varint-encoded start, size, target and depth-and-lasti, all in code
/// units; the first byte of each entry has bit 7 set.
struct Handler {
    target: usize,
    depth: u32,
    lasti: bool,
}

fn handlers(t: &[u8]) -> Vec<Handler> {
    let mut out = Vec::new();
    let mut i = 0;
    let varint = |i: &mut usize| -> Option<u32> {
        let mut b = *t.get(*i)?;
        *i += 1;
        let mut v = (b & 63) as u32;
        while b & 64 != 0 {
            b = *t.get(*i)?;
            *i += 1;
            v = (v << 6) | (b & 63) as u32;
        }
        Some(v)
    };
    while i < t.len() {
        let (Some(_start), Some(_size), Some(target), Some(dl)) = (
            varint(&mut i),
            varint(&mut i),
            varint(&mut i),
            varint(&mut i),
        ) else {
            break;
        };
        out.push(Handler {
            target: target as usize,
            depth: dl >> 1,
            lasti: dl & 1 == 1,
        });
    }
    out
}
