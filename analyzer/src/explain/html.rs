//! The HTML rendering of an explanation: one self-contained file (inline
//! CSS and JavaScript, nothing fetched), readable without JavaScript.
//!
//! - a timeline: one lane (column) per actor, one row per step that
//!   matters; the most relevant finding's accesses are highlighted and
//!   link to their source snippets;
//! - the happens-before edges among those steps, drawn as arrows between
//!   lanes (by the script) and listed;
//! - the findings, ranked, with both sides' source lines;
//! - source snippets around each highlighted access and the failing line,
//!   lines changed since recording marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use racetrace_formats::TraceFile;

use super::source::Sources;
use super::{Detail, Explanation, Side};

/// Lines of context around a snippet's line.
const SNIPPET_CONTEXT: u32 = 3;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
code, pre, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; }
.meta td { padding: 0 1em 0 0; vertical-align: top; }
.incomplete { background: #fff3cd; border: 1px solid #e0b000; padding: 0.5em; margin: 0.3em 0; }
.outcome { background: #fde8e8; border-left: 4px solid #c62828; padding: 0.5em; }
.finding { border: 1px solid #ddd; border-radius: 4px; padding: 0.6em; margin: 0.6em 0; }
.finding.top { border-color: #c62828; }
.why { color: #555; }
.side { margin: 0.3em 0 0.3em 1em; }
.timeline-wrap { position: relative; overflow-x: auto; }
table.timeline { border-collapse: collapse; position: relative; z-index: 1; }
table.timeline th.lane { background: #eef2f7; padding: 0.3em 0.8em; border-bottom: 2px solid #8aa; min-width: 14em; }
table.timeline td { border-left: 1px dashed #ccd; padding: 0.15em 0.5em; vertical-align: top; }
table.timeline td.idx { border-left: none; color: #777; text-align: right; }
.ev { display: inline-block; border: 1px solid #bbc; border-radius: 3px; padding: 0.1em 0.4em; background: #fafbff; }
.ev.sync { background: #eef7ee; border-color: #9c9; }
.ev.race { background: #ffd54f; border: 2px solid #c62828; font-weight: bold; }
.ev .src { display: block; color: #444; font-weight: normal; }
.changed { color: #b00020; font-weight: bold; }
tr.gap td { color: #888; font-style: italic; border-left: none; }
svg.edges { position: absolute; left: 0; top: 0; pointer-events: none; z-index: 2; }
.snippet { margin: 0.5em 0; }
.snippet .ln { color: #888; display: inline-block; width: 3.5em; text-align: right; margin-right: 0.8em; }
.snippet .hl { background: #ffd54f; display: block; }
.snippet .line { display: block; white-space: pre; }
.snippet .chg { background: #fde2e2; display: block; }
"#;

const SCRIPT: &str = r#"
(function () {
  var wrap = document.querySelector('.timeline-wrap');
  if (!wrap) return;
  var svg = wrap.querySelector('svg.edges');
  function draw() {
    var box = wrap.getBoundingClientRect();
    svg.setAttribute('width', wrap.scrollWidth);
    svg.setAttribute('height', wrap.scrollHeight);
    while (svg.lastChild && svg.lastChild.tagName !== 'defs') svg.removeChild(svg.lastChild);
    document.querySelectorAll('li.edge').forEach(function (li) {
      var a = document.getElementById('step-' + li.dataset.from);
      var b = document.getElementById('step-' + li.dataset.to);
      if (!a || !b) return;
      var ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
      var x1 = ra.left + ra.width / 2 - box.left + wrap.scrollLeft, y1 = ra.bottom - box.top;
      var x2 = rb.left + rb.width / 2 - box.left + wrap.scrollLeft, y2 = rb.top - box.top;
      var line = document.createElementNS('http://www.w3.org/2000/svg', 'line');
      line.setAttribute('x1', x1); line.setAttribute('y1', y1);
      line.setAttribute('x2', x2); line.setAttribute('y2', y2);
      line.setAttribute('stroke', '#2e7d32'); line.setAttribute('stroke-width', '2');
      line.setAttribute('marker-end', 'url(#arrow)');
      line.setAttribute('class', 'hb-edge');
      svg.appendChild(line);
    });
  }
  window.addEventListener('resize', draw);
  draw();
})();
"#;

/// Snippet ids by (file, line), and the directory the page's locations
/// are shown relative to.
struct Snippets {
    ids: BTreeMap<(String, u32), usize>,
    base: String,
}

/// The longest directory prefix (ending with `/`) shared by every file.
fn common_dir<'a>(files: impl Iterator<Item = &'a str>) -> String {
    let mut base: Option<&str> = None;
    for f in files {
        let dir = f.rfind('/').map(|i| &f[..=i]).unwrap_or("");
        base = Some(match base {
            None => dir,
            Some(b) => {
                let n = b
                    .char_indices()
                    .zip(dir.chars())
                    .take_while(|((_, x), y)| x == y)
                    .map(|((i, c), _)| i + c.len_utf8())
                    .last()
                    .unwrap_or(0);
                let shared = &b[..n];
                shared.rfind('/').map(|i| &shared[..=i]).unwrap_or("")
            }
        });
    }
    base.unwrap_or("").to_string()
}

impl Snippets {
    fn id(&self, file: &str, line: u32) -> Option<String> {
        self.ids
            .get(&(file.to_string(), line))
            .map(|i| format!("src-{i}"))
    }
}

fn loc_link(snips: &Snippets, file: &str, line: u32, location: &str) -> String {
    let short = location.strip_prefix(&snips.base).unwrap_or(location);
    match snips.id(file, line) {
        Some(id) => format!(
            "<a href=\"#{id}\" class=\"mono\" title=\"{}\">{}</a>",
            esc(location),
            esc(short)
        ),
        None => format!(
            "<span class=\"mono\" title=\"{}\">{}</span>",
            esc(location),
            esc(short)
        ),
    }
}

fn side_html(out: &mut String, s: &Side, snips: &Snippets) {
    let _ = write!(
        out,
        "<div class=\"side\"><b>{}</b> by {} at {} in <code>{}</code> <span class=\"why\">[event {}]</span>",
        esc(s.kind),
        esc(&s.actor_name),
        loc_link(snips, &s.file, s.line, &s.location),
        esc(&s.function),
        s.event
    );
    if let Some(src) = &s.source {
        let _ = write!(out, "<pre>{:>5} | {}</pre>", s.line, esc(src));
    }
    if s.changed {
        out.push_str("<div class=\"changed\">this line changed since recording</div>");
    }
    let locks = if s.state.locks_held.is_empty() {
        "none".to_string()
    } else {
        s.state.locks_held.join(", ")
    };
    let _ = write!(
        out,
        "<div class=\"why\">stack: {}<br>locks held: {}</div></div>",
        esc(&s.stack.join(" ← ")),
        esc(&locks)
    );
}

/// Renders the page. `trace` is read again for the snippets' lines.
pub fn render(x: &Explanation, trace: &TraceFile) -> String {
    let mut sources = Sources::new(trace);
    // Snippets: the highlighted steps, the detailed findings' sides, the
    // failing line.
    let mut wanted: Vec<(String, u32)> = Vec::new();
    for s in x.steps.iter().filter(|s| s.highlighted) {
        wanted.push((s.file.clone(), s.line));
    }
    for f in x.findings.iter().take(super::DETAILED) {
        if let Detail::Race { first, second, .. } = &f.detail {
            wanted.push((first.file.clone(), first.line));
            wanted.push((second.file.clone(), second.line));
        }
    }
    if let Some(f) = &x.outcome.failing {
        wanted.push((f.file.clone(), f.line));
    }
    let base = common_dir(
        x.steps
            .iter()
            .map(|s| s.file.as_str())
            .chain(wanted.iter().map(|(f, _)| f.as_str())),
    );
    let mut snips = Snippets {
        ids: BTreeMap::new(),
        base,
    };
    for w in wanted {
        let n = snips.ids.len();
        snips.ids.entry(w).or_insert(n);
    }

    let mut o = String::new();
    let title = format!(
        "racetrace explain: {}",
        x.test.as_deref().unwrap_or(&x.program)
    );
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title)
    );
    let _ = write!(o, "<h1>{}</h1>\n<table class=\"meta\">", esc(&title));
    let _ = writeln!(
        o,
        "<tr><td>trace</td><td class=\"mono\">{}</td></tr><tr><td>program</td><td class=\"mono\">{}</td></tr><tr><td>recorded</td><td>{} events, {} actors, python {}, format version {}</td></tr></table>",
        esc(&x.file),
        esc(&x.program),
        x.events,
        x.actors.len(),
        esc(&x.python_version),
        x.format_version
    );
    if !snips.base.is_empty() {
        let _ = write!(
            o,
            "<p class=\"why\">Locations below are in <code>{}</code>.</p>",
            esc(&snips.base)
        );
    }
    for i in &x.incomplete {
        let _ = write!(o, "<div class=\"incomplete\">Incomplete: {}</div>", esc(i));
    }

    o.push_str("<h2>How the run ended</h2><div class=\"outcome\">");
    let oc = &x.outcome;
    let _ = write!(
        o,
        "<b>{}</b>{}{}",
        esc(oc.kind),
        oc.actor
            .as_ref()
            .map(|a| format!(" in {}", esc(a)))
            .unwrap_or_default(),
        if oc.type_name.is_empty() {
            String::new()
        } else {
            format!(
                ": <code>{}: {}</code>",
                esc(&oc.type_name),
                esc(&oc.message)
            )
        }
    );
    if let Some(f) = &oc.failing {
        let _ = write!(
            o,
            "<div>failing line: {}</div>",
            loc_link(&snips, &f.file, f.line, &f.location())
        );
    }
    if !oc.text.is_empty() {
        let _ = write!(o, "<pre>{}</pre>", esc(&oc.text));
    }
    o.push_str("</div>\n");

    // The timeline.
    let mut lanes: Vec<(u32, String)> = Vec::new();
    for s in &x.steps {
        if !lanes.iter().any(|(a, _)| *a == s.actor.0) {
            lanes.push((s.actor.0, s.actor_name.clone()));
        }
    }
    lanes.sort();
    o.push_str("<h2>Timeline: the steps that matter</h2>");
    if x.steps.is_empty() {
        o.push_str("<p>No finding to center a timeline on.</p>");
    } else {
        if let Some(l) = &x.lost_update {
            let _ = write!(
                o,
                "<p class=\"pattern\"><b>{}</b></p>",
                esc(&super::lost_update_words(l))
            );
        }
        o.push_str("<div class=\"timeline-wrap\"><svg class=\"edges\" xmlns=\"http://www.w3.org/2000/svg\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#2e7d32\"/></marker></defs></svg><table class=\"timeline\"><thead><tr><th>event</th>");
        for (_, name) in &lanes {
            let _ = write!(o, "<th class=\"lane\">{}</th>", esc(name));
        }
        o.push_str("</tr></thead><tbody>\n");
        let gap = |o: &mut String, n: u64| {
            let _ = writeln!(
                o,
                "<tr class=\"gap\"><td></td><td colspan=\"{}\">… {n} more step{} on the same keys and actors</td></tr>",
                lanes.len(),
                if n == 1 { "" } else { "s" }
            );
        };
        for (i, s) in x.steps.iter().enumerate() {
            if s.skipped_before > 0 {
                gap(&mut o, s.skipped_before);
            }
            let _ = write!(o, "<tr><td class=\"idx mono\">{}</td>", s.event);
            for (a, _) in &lanes {
                if *a != s.actor.0 {
                    o.push_str("<td></td>");
                    continue;
                }
                let mut class = String::from("ev");
                if s.kind != "read" && s.kind != "write" {
                    class.push_str(" sync");
                }
                if s.highlighted {
                    class.push_str(" race");
                }
                let _ = write!(
                    o,
                    "<td><div class=\"{class}\" id=\"step-{i}\" data-event=\"{}\"><span class=\"mono\">{} {}</span> at {}",
                    s.event,
                    esc(s.kind),
                    esc(&s.what),
                    loc_link(&snips, &s.file, s.line, &s.location)
                );
                if let Some(src) = &s.source {
                    let _ = write!(o, "<span class=\"src mono\">{}</span>", esc(src));
                }
                if s.changed {
                    o.push_str("<span class=\"changed\">changed since recording</span>");
                }
                o.push_str("</div></td>");
            }
            o.push_str("</tr>\n");
        }
        if x.skipped_after > 0 {
            gap(&mut o, x.skipped_after);
        }
        o.push_str("</tbody></table></div>\n");
        o.push_str("<h3>Happens-before edges among these steps</h3>");
        if x.edges.is_empty() {
            o.push_str(
                "<p>None: nothing among these steps orders one actor's step before another's.</p>",
            );
        } else {
            o.push_str("<ul class=\"edges\">");
            for e in &x.edges {
                let (a, b) = (&x.steps[e.from], &x.steps[e.to]);
                let _ = write!(
                    o,
                    "<li class=\"edge\" data-from=\"{}\" data-to=\"{}\">{} {} (event {}) → {} {} (event {}): <b>{}</b></li>",
                    e.from,
                    e.to,
                    esc(&a.actor_name),
                    esc(a.kind),
                    a.event,
                    esc(&b.actor_name),
                    esc(b.kind),
                    b.event,
                    esc(e.kind)
                );
            }
            o.push_str("</ul>");
        }
    }

    o.push_str("<h2>Findings, most relevant first</h2>");
    if x.findings.is_empty() {
        o.push_str("<p>No data race and no potential deadlock.</p>");
    }
    for f in &x.findings {
        let _ = write!(
            o,
            "<div class=\"finding{}\">",
            if f.rank == 1 { " top" } else { "" }
        );
        match &f.detail {
            Detail::Race {
                key_name,
                class,
                first,
                second,
                why_unordered,
                ..
            } => {
                let _ = write!(
                    o,
                    "<b>{}. Data race on <code>{}</code></b>, {}",
                    f.rank,
                    esc(key_name),
                    esc(class.name())
                );
                if !f.relevance.is_empty() {
                    let _ = write!(o, " <span class=\"why\">— {}</span>", esc(&f.relevance));
                }
                if f.rank <= super::DETAILED {
                    side_html(&mut o, first, &snips);
                    side_html(&mut o, second, &snips);
                    if !why_unordered.is_empty() {
                        let _ = write!(o, "<div class=\"why\">{}</div>", esc(why_unordered));
                    }
                }
            }
            Detail::PotentialDeadlock { locks, edges } => {
                let _ = write!(
                    o,
                    "<b>{}. Potential deadlock</b> {} → {}",
                    f.rank,
                    esc(&locks.join(" → ")),
                    esc(&locks[0])
                );
                o.push_str("<ul>");
                for e in edges {
                    let _ = write!(
                        o,
                        "<li>{} holds {} (acquired at <code>{}</code>) and acquires {} at <code>{}</code></li>",
                        esc(&e.actor_name),
                        esc(&e.held),
                        esc(&e.held_location),
                        esc(&e.acquired),
                        esc(&e.acquire_location)
                    );
                }
                o.push_str("</ul>");
            }
        }
        o.push_str("</div>\n");
    }

    o.push_str("<h2>Source</h2>");
    for ((file, line), id) in snips.ids.iter().map(|(k, v)| (k, *v)) {
        let status = sources.status(file);
        let _ = write!(
            o,
            "<div class=\"snippet\" id=\"src-{id}\"><div class=\"mono\">{}:{} <span class=\"why\">({})</span></div><pre>",
            esc(file),
            line,
            esc(status.words())
        );
        for (n, text, changed) in sources.snippet(
            file,
            line.saturating_sub(SNIPPET_CONTEXT),
            line + SNIPPET_CONTEXT,
        ) {
            let class = if n == *line {
                "line hl"
            } else if changed {
                "line chg"
            } else {
                "line"
            };
            let _ = write!(
                o,
                "<span class=\"{class}\"><span class=\"ln\">{n}</span>{}{}</span>",
                esc(&text),
                if changed {
                    "   ← changed since recording"
                } else {
                    ""
                }
            );
        }
        o.push_str("</pre></div>\n");
    }

    o.push_str("<h2>Reproduce</h2><pre>");
    let r = &x.reproduce;
    if let Some(n) = &r.note {
        let _ = writeln!(o, "# {}", esc(n));
    }
    let _ = writeln!(o, "{}", esc(&r.replay));
    if !r.script.is_empty() {
        let _ = writeln!(o, "{}", esc(&r.script));
    }
    let _ = writeln!(o, "{}", esc(&r.shrink));
    o.push_str("</pre>\n");
    let _ = write!(o, "<script>{SCRIPT}</script>\n</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::common_dir;

    #[test]
    fn common_directory_of_files() {
        assert_eq!(common_dir(["/a/b/x.py", "/a/b/y.py"].into_iter()), "/a/b/");
        assert_eq!(common_dir(["/a/b/x.py", "/a/c/y.py"].into_iter()), "/a/");
        assert_eq!(common_dir(["/a/bc/x.py", "/a/bd/y.py"].into_iter()), "/a/");
        assert_eq!(common_dir(["x.py", "/a/y.py"].into_iter()), "");
        assert_eq!(common_dir(std::iter::empty()), "");
    }
}
