//! `racetrace` on files that are not good traces (missing, corrupt, another
//! format or version, empty): one line on stderr naming the file and the
//! problem, exit code 2.

mod common;

use common::cli::{assert_one_error_line, lost_update, racetrace, Dir};
use racetrace_formats::{Outcome, TraceFile};

#[test]
fn missing_file_is_one_line_exit_2() {
    let dir = Dir::new();
    let path = dir.0.path().join("nope.rtrace");
    for cmd in ["info", "races", "deadlocks"] {
        let run = racetrace(&[cmd.as_ref(), path.as_os_str()]);
        assert_one_error_line(&run, &path, "cannot open");
    }
}

#[test]
fn corrupt_chunk_is_one_line_naming_file_offset_and_problem() {
    let dir = Dir::new();
    let good = lost_update(false).finish(&Outcome::Ok);
    let good_path = dir.write("good.rtrace", &good);
    let chunk = TraceFile::open(&good_path).unwrap().chunks()[0];
    // A byte in the middle of the first chunk's body.
    let mut bad = good.clone();
    let at = chunk.offset as usize + racetrace_formats::codec::CHUNK_FRAME_LEN + 2;
    bad[at] ^= 0x55;
    let path = dir.write("corrupt.rtrace", &bad);
    for cmd in ["info", "races", "deadlocks", "graph"] {
        let mut args: Vec<&std::ffi::OsStr> = vec![cmd.as_ref(), path.as_os_str()];
        if cmd == "graph" {
            args.extend([
                std::ffi::OsStr::new("--format"),
                std::ffi::OsStr::new("dot"),
            ]);
        }
        let run = racetrace(&args);
        assert_one_error_line(&run, &path, "corrupt chunk");
        let offset = format!("offset {}", chunk.offset);
        assert!(
            run.stderr.contains(&offset),
            "{offset:?} not in {}",
            run.stderr
        );
    }
}

#[test]
fn bad_magic_is_one_line_exit_2() {
    let dir = Dir::new();
    let path = dir.write(
        "notes.txt",
        b"these are not the bytes you are looking for\n",
    );
    for cmd in ["info", "races"] {
        let run = racetrace(&[cmd.as_ref(), path.as_os_str()]);
        assert_one_error_line(&run, &path, "bad magic");
        assert!(run.stderr.contains("offset 0"), "{}", run.stderr);
    }
}

#[test]
fn unknown_version_is_one_line_exit_2() {
    let dir = Dir::new();
    let mut bytes = lost_update(false).finish(&Outcome::Ok);
    // The format version follows the 8 magic bytes.
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    let path = dir.write("future.rtrace", &bytes);
    let run = racetrace(&["info".as_ref(), path.as_os_str()]);
    assert_one_error_line(&run, &path, "unsupported format version 99");
    assert!(run.stderr.contains("offset 8"), "{}", run.stderr);
}

#[test]
fn empty_file_is_one_line_exit_2() {
    let dir = Dir::new();
    let path = dir.write("empty.rtrace", b"");
    let run = racetrace(&["races".as_ref(), path.as_os_str()]);
    assert_one_error_line(&run, &path, "offset 0");
}
