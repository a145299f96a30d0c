//! Schedules: the actor chosen at each scheduling point.
//!
//! Text form (one line, copy-pasteable into a test or a shell):
//! `rts1:0*3,1,0*2` — `rts` names the format, `1` its version; then the
//! steps run-length encoded: `a*n` is actor `a` chosen `n` times in a row,
//! a bare `a` once. The empty schedule is `rts1:`.
//!
//! Binary form: `RTSC` magic, then varints: version, number of steps,
//! number of runs, and (actor, run length) per run.
//!
//! ```
//! use racetrace_formats::{ActorId, Schedule};
//!
//! let s = Schedule::parse("rts1:0*3,1,0*2")?;
//! assert_eq!(s.steps, [0, 0, 0, 1, 0, 0].map(ActorId));
//! assert_eq!(s.to_text(), "rts1:0*3,1,0*2");
//! assert_eq!(Schedule::from_bytes(&s.to_bytes())?, s);
//! let err = Schedule::parse("rts7:0").unwrap_err();
//! assert_eq!(err.to_string(), "schedule format version 7 is not supported (supported: 1)");
//! # Ok::<(), racetrace_formats::ScheduleError>(())
//! ```

use crate::model::ActorId;

/// The schedule format version written and read.
pub const SCHEDULE_VERSION: u32 = 1;
/// Prefix of the text form, before the version number.
pub const TEXT_PREFIX: &str = "rts";
/// Magic bytes of the binary form.
pub const BINARY_MAGIC: [u8; 4] = *b"RTSC";
/// Longest schedule accepted when parsing, so that a short corrupt or
/// hostile input (`rts1:0*99999999999`) cannot demand gigabytes.
pub const MAX_STEPS: u64 = 1 << 26;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// The actor chosen at each scheduling point.
    pub steps: Vec<ActorId>,
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("schedule format version {version} is not supported (supported: {supported})")]
    UnsupportedVersion { version: u64, supported: u32 },
    /// `column` is 1-based, in characters of the input.
    #[error("invalid schedule at column {column}: {problem}")]
    Text { column: usize, problem: String },
    #[error("invalid binary schedule at byte {offset}: {problem}")]
    Binary { offset: usize, problem: String },
    /// A schedule no program can follow (see [`Schedule::check_feasible`]).
    #[error("invalid schedule: step {step} names actor {actor}, but at most {step} actors can exist by then (actor 0 first, at most one new actor per step)")]
    ActorTooEarly { step: usize, actor: u32 },
}

impl Schedule {
    pub fn new(steps: Vec<ActorId>) -> Schedule {
        Schedule { steps }
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Checks what can be checked of a schedule before anything runs: only
    /// actor 0 exists at first, and every step creates at most one actor,
    /// so actor k cannot appear before step k.
    pub fn check_feasible(&self) -> Result<(), ScheduleError> {
        let mut seen_max: i64 = -1;
        for (step, a) in self.steps.iter().enumerate() {
            if i64::from(a.0) > seen_max {
                if a.0 as usize > step {
                    return Err(ScheduleError::ActorTooEarly { step, actor: a.0 });
                }
                seen_max = i64::from(a.0);
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs of equal consecutive actors: (actor, length >= 1).
    pub fn runs(&self) -> impl Iterator<Item = (ActorId, u64)> + '_ {
        let mut i = 0;
        std::iter::from_fn(move || {
            let actor = *self.steps.get(i)?;
            let start = i;
            while self.steps.get(i) == Some(&actor) {
                i += 1;
            }
            Some((actor, (i - start) as u64))
        })
    }

    /// The one-line text form, e.g. `rts1:0*3,1,0*2`.
    pub fn to_text(&self) -> String {
        let mut s = format!("{TEXT_PREFIX}{SCHEDULE_VERSION}:");
        for (i, (actor, n)) in self.runs().enumerate() {
            if i > 0 {
                s.push(',');
            }
            if n == 1 {
                s.push_str(&actor.0.to_string());
            } else {
                s.push_str(&format!("{}*{n}", actor.0));
            }
        }
        s
    }

    /// Parses the text form. Surrounding whitespace is ignored (copy-paste);
    /// errors give the 1-based column of the problem.
    pub fn parse(s: &str) -> Result<Schedule, ScheduleError> {
        TextParser::new(s).parse()
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = BINARY_MAGIC.to_vec();
        put_varint(&mut out, u64::from(SCHEDULE_VERSION));
        put_varint(&mut out, self.steps.len() as u64);
        let runs: Vec<(ActorId, u64)> = self.runs().collect();
        put_varint(&mut out, runs.len() as u64);
        for (actor, n) in runs {
            put_varint(&mut out, u64::from(actor.0));
            put_varint(&mut out, n);
        }
        out
    }

    /// Parses the binary form; never trusts a length.
    pub fn from_bytes(b: &[u8]) -> Result<Schedule, ScheduleError> {
        let err = |offset: usize, problem: String| ScheduleError::Binary { offset, problem };
        if b.len() < BINARY_MAGIC.len() || b[..BINARY_MAGIC.len()] != BINARY_MAGIC {
            return Err(err(0, "bad magic: not a racetrace schedule".into()));
        }
        let mut pos = BINARY_MAGIC.len();
        let version = read_varint(b, &mut pos, "version")?;
        if version != u64::from(SCHEDULE_VERSION) {
            return Err(ScheduleError::UnsupportedVersion {
                version,
                supported: SCHEDULE_VERSION,
            });
        }
        let at = pos;
        let n_steps = read_varint(b, &mut pos, "step count")?;
        if n_steps > MAX_STEPS {
            return Err(err(
                at,
                format!("{n_steps} steps is more than the limit of {MAX_STEPS}"),
            ));
        }
        let at = pos;
        let n_runs = read_varint(b, &mut pos, "run count")?;
        // Each run takes at least two bytes: a larger count is a lie.
        let left = (b.len() - pos) as u64;
        if n_runs > left / 2 {
            return Err(err(
                at,
                format!("{n_runs} runs cannot fit in the {left} bytes left"),
            ));
        }
        // n_steps <= MAX_STEPS, so this allocation is bounded.
        let mut steps = Vec::with_capacity(n_steps as usize);
        for _ in 0..n_runs {
            let at = pos;
            let actor = read_varint(b, &mut pos, "actor")?;
            let actor = u32::try_from(actor)
                .map_err(|_| err(at, format!("actor {actor} does not fit in 32 bits")))?;
            let at = pos;
            let n = read_varint(b, &mut pos, "run length")?;
            if n == 0 {
                return Err(err(at, "run of length 0".into()));
            }
            if n > n_steps - steps.len() as u64 {
                return Err(err(
                    at,
                    format!("runs add up to more than the {n_steps} steps declared"),
                ));
            }
            steps.extend(std::iter::repeat_n(ActorId(actor), n as usize));
        }
        if steps.len() as u64 != n_steps {
            return Err(err(
                pos,
                format!("runs add up to {} steps, {n_steps} declared", steps.len()),
            ));
        }
        if pos != b.len() {
            return Err(err(
                pos,
                format!("{} unexpected bytes at the end", b.len() - pos),
            ));
        }
        Ok(Schedule { steps })
    }
}

/// Reads one varint of a binary schedule, naming `what` on failure.
fn read_varint(b: &[u8], pos: &mut usize, what: &str) -> Result<u64, ScheduleError> {
    let at = *pos;
    crate::codec::get_varint(b, pos).ok_or_else(|| ScheduleError::Binary {
        offset: at,
        problem: format!("bad or truncated {what}"),
    })
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(s)
    }
}

/// LEB128, the varint of the trace codec (whose writer fills a fixed
/// buffer instead of a `Vec`).
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Parser of the text form over the characters of the input, tracking the
/// column for errors.
struct TextParser {
    chars: Vec<char>,
    pos: usize,
    end: usize,
}

impl TextParser {
    fn new(input: &str) -> Self {
        let chars: Vec<char> = input.chars().collect();
        let mut pos = 0;
        let mut end = chars.len();
        while pos < end && chars[pos].is_whitespace() {
            pos += 1;
        }
        while end > pos && chars[end - 1].is_whitespace() {
            end -= 1;
        }
        TextParser { chars, pos, end }
    }

    fn err(&self, at: usize, problem: impl Into<String>) -> ScheduleError {
        ScheduleError::Text {
            column: at + 1,
            problem: problem.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        (self.pos < self.end).then(|| self.chars[self.pos])
    }

    /// Describes the character at `pos` for error messages.
    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("found '{c}'"),
            None => "found the end of the input".to_string(),
        }
    }

    /// A decimal number (no sign).
    fn number(&mut self, what: &str) -> Result<u64, ScheduleError> {
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or_else(|| self.err(start, format!("{what} is too large")))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(self.pos, format!("expected {what}, {}", self.found())));
        }
        Ok(value)
    }

    fn parse(mut self) -> Result<Schedule, ScheduleError> {
        for expected in TEXT_PREFIX.chars() {
            if self.peek() != Some(expected) {
                return Err(self.err(
                    self.pos,
                    format!(
                        "a schedule starts with \"{TEXT_PREFIX}{SCHEDULE_VERSION}:\", {}",
                        self.found()
                    ),
                ));
            }
            self.pos += 1;
        }
        let version = self.number("a format version number")?;
        if self.peek() != Some(':') {
            return Err(self.err(
                self.pos,
                format!("expected ':' after the version, {}", self.found()),
            ));
        }
        self.pos += 1;
        if version != u64::from(SCHEDULE_VERSION) {
            return Err(ScheduleError::UnsupportedVersion {
                version,
                supported: SCHEDULE_VERSION,
            });
        }
        let mut steps: Vec<ActorId> = Vec::new();
        if self.peek().is_none() {
            return Ok(Schedule { steps });
        }
        loop {
            let item = self.pos;
            let actor = self.number("an actor id")?;
            let actor = u32::try_from(actor)
                .map_err(|_| self.err(item, format!("actor id {actor} is too large")))?;
            let mut count = 1;
            if self.peek() == Some('*') {
                self.pos += 1;
                let at = self.pos;
                count = self.number("a repeat count")?;
                if count == 0 {
                    return Err(self.err(at, "repeat count must be at least 1"));
                }
            }
            if count > MAX_STEPS - steps.len() as u64 {
                return Err(self.err(
                    item,
                    format!("schedule is longer than the limit of {MAX_STEPS} steps"),
                ));
            }
            steps.extend(std::iter::repeat_n(ActorId(actor), count as usize));
            match self.peek() {
                None => return Ok(Schedule { steps }),
                Some(',') => self.pos += 1,
                Some(_) => {
                    return Err(self.err(
                        self.pos,
                        format!("expected ',', '*' or the end, {}", self.found()),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(v: &[u32]) -> Schedule {
        Schedule::new(v.iter().map(|&a| ActorId(a)).collect())
    }

    #[test]
    fn actors_cannot_appear_before_they_can_exist() {
        assert!(sched(&[0, 1, 2, 1, 0]).check_feasible().is_ok());
        assert!(sched(&[]).check_feasible().is_ok());
        let e = sched(&[0, 2]).check_feasible().unwrap_err();
        assert_eq!(e, ScheduleError::ActorTooEarly { step: 1, actor: 2 });
        assert!(e.to_string().contains("step 1 names actor 2"));
        assert!(sched(&[1]).check_feasible().is_err());
    }

    #[test]
    fn text_form_is_run_length_encoded() {
        let s = sched(&[0, 0, 0, 1, 0, 0]);
        assert_eq!(s.to_text(), "rts1:0*3,1,0*2");
        assert_eq!(Schedule::parse("rts1:0*3,1,0*2").unwrap(), s);
        assert_eq!(Schedule::parse("  rts1:0*3,1,0*2\n").unwrap(), s);
        assert_eq!(sched(&[]).to_text(), "rts1:");
        assert_eq!(Schedule::parse("rts1:").unwrap(), sched(&[]));
    }

    #[test]
    fn unknown_version_is_rejected() {
        let e = Schedule::parse("rts7:0,1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "schedule format version 7 is not supported (supported: 1)"
        );
        let mut b = sched(&[1]).to_bytes();
        b[4] = 7;
        assert_eq!(
            Schedule::from_bytes(&b).unwrap_err().to_string(),
            "schedule format version 7 is not supported (supported: 1)"
        );
    }

    #[test]
    fn text_errors_give_column_and_problem() {
        let cases = [
            ("xyz1:0", 1, "starts with"),
            ("rts:0", 4, "version"),
            ("rts1;0", 5, "expected ':'"),
            ("rts1:0,,1", 8, "actor id"),
            ("rts1:0,", 8, "end of the input"),
            ("rts1:0*0", 8, "at least 1"),
            ("rts1:0*", 8, "repeat count"),
            ("rts1:0 1", 7, "expected ','"),
            ("rts1:4294967296", 6, "too large"),
            ("rts1:0*99999999999", 6, "limit"),
            ("rts1:-1", 6, "actor id"),
        ];
        for (input, column, problem) in cases {
            match Schedule::parse(input) {
                Err(ScheduleError::Text {
                    column: c,
                    problem: p,
                }) => {
                    assert_eq!(c, column, "{input}: {p}");
                    assert!(p.contains(problem), "{input}: {p}");
                }
                other => panic!("{input}: {other:?}"),
            }
            let msg = Schedule::parse(input).unwrap_err().to_string();
            assert!(msg.contains(&format!("column {column}")), "{msg}");
        }
    }

    #[test]
    fn binary_errors_are_clean() {
        assert!(Schedule::from_bytes(b"").is_err());
        assert!(Schedule::from_bytes(b"XXXX\x01\x00\x00").is_err());
        // Claims many runs in few bytes.
        assert!(Schedule::from_bytes(b"RTSC\x01\x05\x7f\x00\x05").is_err());
        // Claims a huge step count.
        assert!(Schedule::from_bytes(b"RTSC\x01\xff\xff\xff\xff\x0f\x00").is_err());
        // Trailing bytes.
        let mut b = sched(&[0, 1]).to_bytes();
        b.push(0);
        assert!(Schedule::from_bytes(&b).is_err());
    }
}
