//! The header: the node, its kernel, the probes and where the data comes
//! from (live, recording, a replay and its span); the rates, what was lost,
//! and what podtop and the node's sidecars cost.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::records::run::Source;
use super::Context;
use crate::ui::format::{bytes, cores, count, duration, time_of_day};
use crate::ui::theme::Theme;

/// podtop's own cost, measured from /proc/self.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SelfUsage {
    pub cpu_percent: f64,
    pub rss_bytes: u64,
}

fn source_text(ctx: &Context, ended: bool) -> String {
    match &ctx.run.source {
        Source::Live { recording: false } => "live".to_string(),
        Source::Live { recording: true } => "live, recording".to_string(),
        Source::Replay { path } => {
            let span = match (ctx.model.first_tick_ns, ctx.model.last_tick_ns) {
                (Some(first), Some(last)) => format!(
                    " · {}–{} UTC ({})",
                    time_of_day(first),
                    time_of_day(last),
                    duration(last.saturating_sub(first))
                ),
                _ => String::new(),
            };
            let state = if ended { "ended" } else { "playing" };
            // The file's name: a long path would push the state and span off the line.
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            format!("replay {name} · {state}{span}")
        }
    }
}

/// Said where podtop does not measure its BPF time, and there is room.
const HINT_BPF: &str = " · BPF time: --bpf-stats";

/// Below this width the header drops its labels and keeps its numbers.
const WIDE_HEADER: u16 = 110;

pub fn draw(frame: &mut Frame, ctx: &Context, usage: Option<SelfUsage>, ended: bool, theme: &Theme, area: Rect) {
    let m = &ctx.model;
    let run = &ctx.run;
    let wide = area.width >= WIDE_HEADER;
    let first = Line::from(vec![
        Span::styled("podtop ", theme.accent()),
        Span::raw(if wide {
            format!(
                "node {} · kernel {} · probes {} attached, {} skipped · {}",
                run.node,
                run.kernel,
                run.probes_attached,
                run.probes_skipped,
                source_text(ctx, ended)
            )
        } else {
            format!(
                "{} · {} · probes {}/{} · {}",
                run.node,
                run.kernel,
                run.probes_attached,
                run.probes_attached + run.probes_skipped,
                source_text(ctx, ended)
            )
        }),
    ]);
    let lost_style = if m.totals.lost + m.totals.dropped > 0 { theme.warn() } else { Style::new() };
    let mut second = vec![
        Span::raw(format!("events/s {} · ", count(m.events_per_sec))),
        Span::styled(format!("lost {} · dropped {}", m.totals.lost, m.totals.dropped), lost_style),
    ];
    if let Some(usage) = usage {
        // Named podtop's at every width: a bare CPU figure reads as the node's.
        second.push(Span::raw(format!(" · podtop CPU {:.1}% RSS {}", usage.cpu_percent, bytes(usage.rss_bytes))));
    }
    // The rest where it fits whole: the sidecars' cost, then podtop's time in BPF.
    let width = area.width as usize;
    let fits = |spans: &[Span], more: &str| Line::from(spans.to_vec()).width() + more.chars().count() <= width;
    let sidecars = match m.sidecars.bill.sidecars {
        0 => None,
        n if wide => Some(format!(" · sidecars {n}: CPU {} RSS {}", cores(m.sidecars.bill.cpu_cores), bytes(m.sidecars.bill.rss_bytes))),
        n => Some(format!(" · sidecars {n}")),
    };
    if let Some(text) = sidecars.filter(|t| fits(&second, t)) {
        second.push(Span::raw(text));
    }
    match m.bpf_cpu_percent {
        Some(bpf) => {
            let text = if wide { format!(" · BPF {bpf:.2}% of a CPU") } else { format!(" · BPF {bpf:.2}%") };
            if fits(&second, &text) {
                second.push(Span::raw(text));
            }
        }
        // A hint, where it fits whole.
        None if ctx.run.is_replay() || !wide || !fits(&second, HINT_BPF) => {}
        None => second.push(Span::styled(HINT_BPF, theme.dim())),
    }
    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), area);
}
