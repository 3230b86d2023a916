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
        let own = if wide { "podtop CPU" } else { "CPU" };
        second.push(Span::raw(format!(" · {own} {:.1}% RSS {}", usage.cpu_percent, bytes(usage.rss_bytes))));
    }
    if m.sidecars.bill.sidecars > 0 && wide {
        second.push(Span::raw(format!(
            " · sidecars {}: CPU {} RSS {}",
            m.sidecars.bill.sidecars,
            cores(m.sidecars.bill.cpu_cores),
            bytes(m.sidecars.bill.rss_bytes)
        )));
    } else if m.sidecars.bill.sidecars > 0 {
        second.push(Span::raw(format!(" · sidecars {}", m.sidecars.bill.sidecars)));
    }
    let room = (area.width as usize).saturating_sub(Line::from(second.clone()).width());
    match m.bpf_cpu_percent {
        Some(bpf) if wide => second.push(Span::raw(format!(" · BPF {bpf:.2}% of a CPU"))),
        Some(bpf) => second.push(Span::raw(format!(" · BPF {bpf:.2}%"))),
        // A hint, where it fits whole.
        None if ctx.run.is_replay() || !wide || room < 25 => {}
        None => second.push(Span::styled(" · BPF time: --bpf-stats", theme.dim())),
    }
    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), area);
}
