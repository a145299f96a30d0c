//! `racetrace` usage: `--help` and `--version`, the help of each
//! subcommand, and bad usage (exit code 2).

mod common;

use common::cli::racetrace;

#[test]
fn help_documents_exit_codes_and_exits_0() {
    let run = racetrace(&["--help"]);
    assert_eq!(run.code, 0);
    for needle in [
        "Exit codes",
        "0  nothing found",
        "1  findings",
        "2  bad usage",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
    for sub in ["info", "races", "deadlocks", "graph"] {
        assert!(run.stdout.contains(sub), "{sub} not in --help");
    }
}

#[test]
fn version_exits_0() {
    let run = racetrace(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("racetrace "), "{}", run.stdout);
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        vec!["--no-such-flag"],
        vec!["no-such-command"],
        vec!["races"],
        vec!["graph", "t.rtrace", "--format", "png"],
    ] {
        let run = racetrace(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
        assert!(run.stderr.contains("error"), "{args:?}: {}", run.stderr);
    }
    // No subcommand at all is bad usage too.
    let none: [&str; 0] = [];
    assert_eq!(racetrace(&none).code, 2);
}

#[test]
fn subcommand_help_exits_0() {
    for sub in ["info", "races", "deadlocks", "graph"] {
        let run = racetrace(&[sub, "--help"]);
        assert_eq!(run.code, 0, "{sub}");
        assert!(
            run.stdout.contains("Usage: racetrace"),
            "{sub}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("Exit codes"), "{sub}: {}", run.stdout);
    }
    let run = racetrace(&["graph", "--help"]);
    for fmt in ["dot", "json", "perfetto", "--output"] {
        assert!(run.stdout.contains(fmt), "{fmt:?} not in graph --help");
    }
}
