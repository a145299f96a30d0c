//! CPython 3.13 opcode numbers, inline-cache sizes and jumps, as printed by
//! its `opcode` module (`opmap`, `_inline_cache_entries`, `hasjrel`). Only
//! the opcodes the recorder looks at are named.

pub const BINARY_SUBSCR: u8 = 5;
pub const BINARY_SLICE: u8 = 4;
pub const STORE_SLICE: u8 = 38;
pub const GET_ITER: u8 = 19;
pub const WITH_EXCEPT_START: u8 = 44;
pub const BEFORE_WITH: u8 = 2;
pub const STORE_SUBSCR: u8 = 39;
pub const DELETE_SUBSCR: u8 = 9;
pub const STORE_NAME: u8 = 114;
pub const DELETE_NAME: u8 = 67;
pub const STORE_ATTR: u8 = 108;
pub const DELETE_ATTR: u8 = 63;
pub const STORE_GLOBAL: u8 = 113;
pub const DELETE_GLOBAL: u8 = 66;
pub const LOAD_NAME: u8 = 92;
pub const LOAD_ATTR: u8 = 82;
pub const LOAD_GLOBAL: u8 = 91;
pub const CONTAINS_OP: u8 = 59;
pub const LOAD_DEREF: u8 = 84;
pub const STORE_DEREF: u8 = 109;
pub const LOAD_FROM_DICT_OR_DEREF: u8 = 89;
pub const EXTENDED_ARG: u8 = 71;
pub const CALL: u8 = 53;
pub const CALL_KW: u8 = 57;
pub const CALL_FUNCTION_EX: u8 = 54;
pub const BINARY_OP: u8 = 45;
pub const TO_BOOL: u8 = 40;
pub const GET_LEN: u8 = 20;
pub const UNPACK_SEQUENCE: u8 = 117;
pub const UNPACK_EX: u8 = 116;
pub const LIST_EXTEND: u8 = 81;
pub const SET_UPDATE: u8 = 107;
pub const DICT_MERGE: u8 = 68;
pub const DICT_UPDATE: u8 = 69;
pub const COMPARE_OP: u8 = 58;
pub const FORMAT_SIMPLE: u8 = 14;
pub const FORMAT_WITH_SPEC: u8 = 15;
pub const CONVERT_VALUE: u8 = 60;
pub const MATCH_KEYS: u8 = 27;
pub const MATCH_CLASS: u8 = 96;
pub const FOR_ITER: u8 = 72;
pub const GET_YIELD_FROM_ITER: u8 = 21;
pub const RETURN_GENERATOR: u8 = 35;
pub const RETURN_VALUE: u8 = 36;
pub const RETURN_CONST: u8 = 103;
pub const RAISE_VARARGS: u8 = 101;
pub const RERAISE: u8 = 102;
pub const JUMP_FORWARD: u8 = 79;
pub const JUMP_BACKWARD: u8 = 77;
pub const JUMP_BACKWARD_NO_INTERRUPT: u8 = 78;
/// Opcodes below this take no argument.
pub const HAVE_ARGUMENT: u8 = 44;
/// Relative jumps (`opcode.hasjrel`): the target is counted from the next instruction.
pub const RELATIVE_JUMPS: &[u8] = &[
    72,  /* FOR_ITER */
    77,  /* JUMP_BACKWARD */
    78,  /* JUMP_BACKWARD_NO_INTERRUPT */
    79,  /* JUMP_FORWARD */
    97,  /* POP_JUMP_IF_FALSE */
    98,  /* POP_JUMP_IF_NONE */
    99,  /* POP_JUMP_IF_NOT_NONE */
    100, /* POP_JUMP_IF_TRUE */
    104, /* SEND */
];
/// Inline CACHE code units after each opcode (`opcode._inline_cache_entries`).
pub const CACHE_ENTRIES: [u8; 256] = [
    0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0,
    0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
/// BINARY_OP arguments of the in-place operators (`NB_INPLACE_ADD` ..
/// `NB_INPLACE_XOR` in `dis._nb_ops`).
pub const NB_INPLACE_FIRST: u32 = 13;
pub const NB_INPLACE_LAST: u32 = 25;
