//! Format version 3: source digests and marks, and older traces read with
//! both tables empty.

use racetrace_formats::builder::TraceBuilder;
use racetrace_formats::codec;
use racetrace_formats::*;

fn sample(with_extras: bool) -> Vec<u8> {
    let mut b = TraceBuilder::new("app.py").with_chunk_size(16);
    let main = ActorId(0);
    if with_extras {
        b.source("app.py", b"import threading\r\nx = 1\n\nprint(x)");
        b.mark("test app.py::test_one");
    }
    let loc = b.loc("app.py", 2, "main");
    let obj = b.object(ObjKind::Instance, "C", "c");
    let key = b.key(obj, MemberKind::Attr, "v");
    b.read(main, key, loc);
    b.write(main, key, loc);
    if with_extras {
        b.mark("test app.py::test_two");
    }
    b.read(main, key, loc);
    b.finish(&Outcome::Ok)
}

#[test]
fn sources_and_marks_round_trip() {
    let f = TraceFile::from_bytes(sample(true)).unwrap();
    assert_eq!(f.header().format_version, 3);
    let src = &f.sources()[0];
    assert_eq!(f.tables().str(src.file), "app.py");
    let text = b"import threading\r\nx = 1\n\nprint(x)";
    assert_eq!(src.size, text.len() as u64);
    assert_eq!(src.digest, crc32fast::hash(text));
    let want: Vec<u32> = ["import threading", "x = 1", "", "print(x)"]
        .iter()
        .map(|l| crc32fast::hash(l.as_bytes()))
        .collect();
    assert_eq!(src.lines, want);
    let labels: Vec<(&str, u64)> = f
        .marks()
        .iter()
        .map(|m| (f.tables().str(m.label), m.at_event))
        .collect();
    assert_eq!(
        labels,
        [("test app.py::test_one", 0), ("test app.py::test_two", 2)]
    );
    assert_eq!(f.mark_at(0), Some("test app.py::test_one"));
    assert_eq!(f.mark_at(1), Some("test app.py::test_one"));
    assert_eq!(f.mark_at(2), Some("test app.py::test_two"));
    assert_eq!(f.mark_at(9), Some("test app.py::test_two"));
    let events: Vec<Event> = f.events().map(|e| e.unwrap()).collect();
    assert_eq!(events.len(), 3);
}

#[test]
fn line_digests_split_like_python() {
    assert!(line_digests(b"").is_empty());
    assert_eq!(line_digests(b"a\n").len(), 1);
    assert_eq!(line_digests(b"a\nb").len(), 2);
    assert_eq!(line_digests(b"a\r\n\rb\n").len(), 3);
}

/// Rewrites the version of a trace in its prefix and header body, and
/// re-seals the header checksum.
fn set_version(bytes: &mut [u8], version: u8) {
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    bytes[8..12].copy_from_slice(&u32::from(version).to_le_bytes());
    bytes[20] = version;
    let crc = crc32fast::hash(&bytes[20..20 + len]);
    bytes[16..20].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_version_2_trace_has_no_sources_or_marks() {
    let mut bytes = sample(false);
    set_version(&mut bytes, 2);
    let f = TraceFile::from_bytes(bytes).unwrap();
    assert_eq!(f.header().format_version, 2);
    assert!(f.sources().is_empty());
    assert!(f.marks().is_empty());
    assert_eq!(f.mark_at(0), None);
    assert_eq!(f.events().count(), 3);
}

#[test]
fn a_version_2_trace_with_a_version_3_entry_is_malformed() {
    let mut bytes = sample(true);
    set_version(&mut bytes, 2);
    let e = TraceFile::from_bytes(bytes).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("table entry tag 5 in a format version 2 trace"),
        "{msg}"
    );
}

#[test]
fn a_mark_past_its_chunk_is_malformed() {
    // A mark whose event index lies beyond its chunk, with a valid CRC.
    let mut w = TraceWriter::new(Vec::new(), &Header::new(Mode::Synthetic, "p")).unwrap();
    let s = w.add_string("x");
    w.add_actor(ActorDesc {
        kind: ActorKind::Thread,
        name: s,
        parent: None,
        created_by_event: None,
    });
    let mut bytes = w.finish(&Outcome::Ok).unwrap();
    // Append a mark def by hand to the one chunk: rebuild it.
    let chunk =
        codec::HEADER_PREFIX_LEN + u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let defs_len = u32::from_le_bytes(bytes[chunk + 13..chunk + 17].try_into().unwrap()) as usize;
    let defs_end = chunk + codec::CHUNK_FRAME_LEN + defs_len;
    let mut entry = vec![codec::DEF_MARK];
    entry.extend(
        bincode::encode_to_vec(
            Mark {
                label: s,
                at_event: 7,
            },
            codec::BINCODE,
        )
        .unwrap(),
    );
    let mut out = bytes[..defs_end].to_vec();
    out.extend(&entry);
    let new_len = (defs_len + entry.len()) as u32;
    out[chunk + 13..chunk + 17].copy_from_slice(&new_len.to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[chunk + 1..chunk + 21]);
    crc.update(&out[chunk + codec::CHUNK_FRAME_LEN..]);
    out[chunk + 21..chunk + 25].copy_from_slice(&crc.finalize().to_le_bytes());
    // Without a footer: the file ends after this chunk (truncated).
    bytes = out;
    let e = TraceFile::from_bytes(bytes).unwrap_err();
    assert!(e.to_string().contains("mark at event 7"), "{e}");
}

/// bincode's limit counts integers at their full width: strings just
/// under a limit bucket, and headers with a long program, must still read.
#[test]
fn long_strings_and_programs_read_back() {
    for n in [240usize, 248, 250, 252, 254, 255, 256, 300, 1000, 4090] {
        let program = "p".repeat(n);
        let mut b = TraceBuilder::new(&program);
        let name = "s".repeat(n);
        let loc = b.loc(&name, 1, &name);
        let obj = b.object(ObjKind::Instance, &name, &name);
        let key = b.key(obj, MemberKind::Attr, &name);
        b.read(ActorId(0), key, loc);
        let f = TraceFile::from_bytes(b.finish(&Outcome::Ok))
            .unwrap_or_else(|e| panic!("length {n}: {e}"));
        assert_eq!(f.header().program, program);
        assert_eq!(f.tables().key_display(key), format!("{name}.{name}"));
    }
}
