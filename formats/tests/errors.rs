//! One test per distinct error: each checks the variant, the offset and
//! that the one-line message names the file, the offset and the problem.

mod common;

use common::reseal;
use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::error::TableName;
use racetrace_formats::*;

/// A small valid multi-chunk trace and where its chunks are.
fn sample() -> (Vec<u8>, Vec<u64>) {
    let mut b = TraceBuilder::new("app.py").with_chunk_size(8);
    let main = ActorId(0);
    let loc = b.loc("app.py", 3, "main");
    let obj = b.object(ObjKind::Instance, "Counter", "c");
    let key = b.key(obj, MemberKind::Attr, "n");
    let t1 = b.spawn(main, "w", loc);
    for _ in 0..20 {
        b.read(t1, key, loc);
        b.write(main, key, loc);
    }
    let bytes = b.finish(&Outcome::Ok);
    let f = TraceFile::from_bytes(bytes.clone()).unwrap();
    assert!(f.chunk_count() >= 3);
    let offsets = f.chunks().iter().map(|c| c.offset).collect();
    (bytes, offsets)
}

fn open_err(bytes: Vec<u8>) -> FormatError {
    match TraceFile::from_bytes(bytes) {
        Ok(f) => f.events().find_map(Result::err).expect("expected an error"),
        Err(e) => e,
    }
}

/// Checks the one-line shape `<memory>: offset N: ...problem...`.
fn assert_message(e: &FormatError, offset: u64, problem: &str) {
    let msg = e.to_string();
    assert_eq!(e.offset(), Some(offset), "{msg}");
    assert!(
        msg.starts_with(&format!("<memory>: offset {offset}: ")),
        "{msg}"
    );
    assert!(msg.contains(problem), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn bad_magic() {
    let e = open_err(b"PK\x03\x04 not a trace at all".to_vec());
    assert!(matches!(e, FormatError::BadMagic { .. }), "{e:?}");
    assert_message(&e, 0, "bad magic: not a racetrace trace file");
    let e = open_err(Vec::new());
    assert!(matches!(e, FormatError::TruncatedHeader { .. }), "{e:?}");
    assert_message(&e, 0, "too short for a trace header");
}

#[test]
fn unsupported_version() {
    let (mut bytes, _) = sample();
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    let e = open_err(bytes);
    assert!(
        matches!(
            e,
            FormatError::UnsupportedVersion {
                version: 99,
                oldest: 1,
                supported: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert_message(&e, 8, "unsupported format version 99 (supported: 1 to 3)");
}

/// Version 2 only added event kinds and a meaning for the semaphore
/// events' `aux`: a version 1 trace is read as it was.
#[test]
fn version_1_is_still_read() {
    let (mut bytes, _) = sample();
    let events = |b: Vec<u8>| -> Vec<_> {
        let f = TraceFile::from_bytes(b).expect("readable");
        f.events().map(|e| e.expect("event")).collect()
    };
    let current = events(bytes.clone());
    // The version is in the prefix and, as the header's first field (a
    // one-byte varint), at the start of its checksummed body.
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    assert_eq!(bytes[20], 3);
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    bytes[20] = 1;
    let crc = crc32fast::hash(&bytes[20..20 + len]);
    bytes[16..20].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(events(bytes), current);
}

#[test]
fn corrupt_header() {
    let (mut bytes, _) = sample();
    bytes[codec::HEADER_PREFIX_LEN + 2] ^= 0x10;
    let e = open_err(bytes);
    assert!(matches!(e, FormatError::CorruptHeader { .. }), "{e:?}");
    assert_message(
        &e,
        codec::HEADER_PREFIX_LEN as u64,
        "corrupt header (checksum mismatch",
    );
}

#[test]
fn corrupt_middle_chunk_is_an_error_not_a_truncation() {
    let (mut bytes, chunks) = sample();
    let at = chunks[1] as usize + codec::CHUNK_FRAME_LEN;
    bytes[at] ^= 0x01;
    let e = open_err(bytes);
    assert!(
        matches!(e, FormatError::CorruptChunk { chunk: 1, .. }),
        "{e:?}"
    );
    assert_message(&e, chunks[1], "corrupt chunk 1 (checksum mismatch");
}

#[test]
fn corrupt_footer() {
    let (mut bytes, _) = sample();
    let at = bytes.len() - codec::TRAILER_LEN - 1;
    bytes[at] ^= 0x40;
    let footer = u64::from_le_bytes(bytes[bytes.len() - 16..bytes.len() - 8].try_into().unwrap());
    let e = open_err(bytes);
    assert!(matches!(e, FormatError::CorruptFooter { .. }), "{e:?}");
    assert_message(&e, footer, "corrupt footer (checksum mismatch");
}

#[test]
fn unknown_event_kind() {
    let (mut bytes, _) = sample();
    let f = TraceFile::from_bytes(bytes.clone()).unwrap();
    let chunk = f.chunks().iter().find(|c| c.event_count > 0).unwrap();
    let first_events = chunk.events_offset() as usize;
    bytes[first_events] = 0x3E; // long form, kind 62: no such kind
    reseal(&mut bytes);
    let e = open_err(bytes);
    assert!(
        matches!(e, FormatError::UnknownEventKind { tag: 0x3E, .. }),
        "{e:?}"
    );
    assert_message(
        &e,
        first_events as u64,
        "malformed record: unknown event kind (tag byte 0x3e)",
    );
}

#[test]
fn event_target_out_of_range() {
    // The writer does not check actor targets (a Spawn names its child
    // before the child is defined), so a dangling one reaches the file.
    let header = Header::new(Mode::Record, "p");
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    let s = w.add_string("main");
    let file = w.add_string("a.py");
    let loc = w.add_loc(CodeLoc {
        file,
        line: 1,
        function: s,
        offset: 0,
    });
    w.add_actor(ActorDesc {
        kind: ActorKind::Thread,
        name: s,
        parent: None,
        created_by_event: None,
    });
    w.event(&Event {
        actor: ActorId(0),
        kind: EventKind::Join,
        loc,
        target: 42,
        aux: 0,
    })
    .unwrap();
    let bytes = w.finish(&Outcome::Ok).unwrap();
    let f = TraceFile::from_bytes(bytes).unwrap();
    let mut it = f.events();
    let e = it.next().unwrap().unwrap_err();
    assert!(it.next().is_none(), "the iterator ends after an error");
    assert!(f.events().try_for_each_event(|_| {}).is_err());
    assert_eq!(f.events().filter(|e| e.is_err()).count(), 1);
    match &e {
        FormatError::IndexOutOfRange {
            table: TableName::Actors,
            id: 42,
            size: 1,
            context,
            ..
        } => assert_eq!(*context, "event target"),
        other => panic!("{other:?}"),
    }
    let offset = e.offset().unwrap();
    assert_message(
        &e,
        offset,
        "actor index 42 out of range in event target (actor table has 1 entries)",
    );
}

#[test]
fn table_entry_out_of_range() {
    let header = Header::new(Mode::Record, "p");
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    let s = w.add_string("x");
    w.add_key(KeyDesc {
        obj: ObjId(5),
        member_kind: MemberKind::Attr,
        member: s,
    });
    let bytes = w.finish(&Outcome::Ok).unwrap();
    let e = open_err(bytes);
    match &e {
        FormatError::IndexOutOfRange {
            table: TableName::Objects,
            id: 5,
            size: 0,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    let offset = e.offset().unwrap();
    assert_message(&e, offset, "object index 5 out of range in key entry");
}

#[test]
fn unknown_record_tag() {
    let (mut bytes, chunks) = sample();
    bytes[chunks[1] as usize] = b'Z';
    let e = open_err(bytes);
    assert!(matches!(e, FormatError::Malformed { .. }), "{e:?}");
    assert_message(&e, chunks[1], "unknown record tag 0x5a");
}

#[test]
fn trailing_garbage_after_footer() {
    let (mut bytes, _) = sample();
    let end = bytes.len() as u64;
    bytes.extend_from_slice(b"junk");
    let e = open_err(bytes);
    assert_message(&e, end, "4 unexpected bytes after the footer");
}

#[test]
fn writer_rejects_undefined_ids() {
    let header = Header::new(Mode::Record, "p");
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    let e = w
        .event(&Event {
            actor: ActorId(0),
            kind: EventKind::Read,
            loc: LocId(0),
            target: 0,
            aux: 0,
        })
        .unwrap_err();
    assert!(matches!(e, FormatError::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("undefined id"), "{e}");
}

#[test]
fn truncation_is_not_an_error() {
    let (bytes, chunks) = sample();
    // Cut in the middle of the third chunk.
    let cut = chunks[2] as usize + 5;
    let f = TraceFile::from_bytes(bytes[..cut].to_vec()).unwrap();
    assert_eq!(f.chunk_count(), 2);
    let t = f.truncation().unwrap();
    assert_eq!(t.offset, chunks[2]);
    assert_eq!(t.complete_chunks, 2);
    assert!(t.reason.contains("partial chunk"), "{}", t.reason);
    assert!(f.outcome().is_none());
    assert!(f.events().all(|e| e.is_ok()));
}

#[test]
fn damaged_last_chunk_without_footer_is_a_truncation() {
    let mut b = TraceBuilder::new("app.py").with_chunk_size(8);
    let loc = b.loc("app.py", 3, "main");
    for _ in 0..10 {
        b.start(ActorId(0), loc);
    }
    let mut bytes = b.finish_truncated();
    let f = TraceFile::from_bytes(bytes.clone()).unwrap();
    let last = *f.chunks().last().unwrap();
    let n = f.chunk_count();
    let len = bytes.len();
    bytes[len - 1] ^= 0xFF;
    let f = TraceFile::from_bytes(bytes.clone()).unwrap();
    let t = f.truncation().unwrap();
    assert_eq!(f.chunk_count(), n - 1);
    assert_eq!(t.offset, last.offset);
    assert!(t.reason.contains("checksum mismatch"), "{}", t.reason);
    // With a zero-filled tail after it, too.
    bytes.extend_from_slice(&[0; 100]);
    let f = TraceFile::from_bytes(bytes).unwrap();
    assert_eq!(f.chunk_count(), n - 1);
}

#[test]
fn hostile_deltas_are_range_errors_not_overflows() {
    let mut b = TraceBuilder::new("app.py");
    let loc = b.loc("app.py", 3, "main");
    let obj = b.object(ObjKind::Instance, "C", "c");
    let k0 = b.key(obj, MemberKind::Attr, "a");
    let k1 = b.key(obj, MemberKind::Attr, "b");
    b.read(ActorId(0), k0, loc);
    b.read(ActorId(0), k1, loc);
    let bytes = b.finish_truncated();
    // Short read of key +1 (key = 1), then long-form reads whose deltas
    // are i64::MAX (target, then location).
    let huge = [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
    let mut target_case = vec![0x80, 0x02, 0x00, 0x00];
    target_case.extend_from_slice(&huge);
    let mut loc_case = vec![0x80, 0x02, 0x00];
    loc_case.extend_from_slice(&huge);
    loc_case.push(0x00);
    for (events, table) in [(target_case, TableName::Keys), (loc_case, TableName::Locs)] {
        let f = TraceFile::from_bytes(common::with_last_events(bytes.clone(), &events, 2)).unwrap();
        let mut it = f.events();
        assert_eq!(it.next().unwrap().unwrap().target, k1.0);
        match it.next().unwrap().unwrap_err() {
            FormatError::IndexOutOfRange { table: t, .. } => assert_eq!(t, table),
            other => panic!("{other:?}"),
        }
    }
    // A count that does not match the records.
    let f =
        TraceFile::from_bytes(common::with_last_events(bytes.clone(), &[0x80, 0x00], 2)).unwrap();
    let e = f.events().find_map(Result::err).unwrap();
    assert!(e.to_string().contains("1 events short"), "{e}");
    let f = TraceFile::from_bytes(common::with_last_events(
        bytes,
        &[0x80, 0x00, 0x80, 0x00],
        1,
    ))
    .unwrap();
    let e = f.events().find_map(Result::err).unwrap();
    assert!(e.to_string().contains("more events than declared"), "{e}");
}
