//! libbpf's own messages: silent unless PODTOP_DEBUG is set, and read while
//! loading to learn which program the kernel refused, and why.
//!
//! libbpf loads the programs of an object one by one and stops at the first
//! the kernel refuses; it names that program and hands over the verifier's
//! log in its warnings, which are the only place that says which one it was.

use std::sync::Mutex;

use libbpf_rs::PrintLevel;

/// Warnings of the load in progress; None when no load is being watched.
static CAPTURED: Mutex<Option<Vec<String>>> = Mutex::new(None);

/// How much of a verifier log is kept: its end says why it gave up.
const LOG_TAIL_BYTES: usize = 4096;

fn debug_enabled() -> bool {
    std::env::var_os("PODTOP_DEBUG").is_some()
}

fn on_message(level: PrintLevel, message: String) {
    if debug_enabled() {
        eprint!("{message}");
    }
    if level != PrintLevel::Warn {
        return;
    }
    let mut captured = CAPTURED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(messages) = captured.as_mut() {
        // A verifier log can be megabytes long; its last lines are the reason.
        let start = message.len().saturating_sub(LOG_TAIL_BYTES);
        let start = (start..message.len()).find(|i| message.is_char_boundary(*i)).unwrap_or(message.len());
        let keep = if start > 0 { format!("{}{}", first_line(&message), &message[start..]) } else { message };
        messages.push(keep);
    }
}

fn first_line(message: &str) -> &str {
    message.split_inclusive('\n').next().unwrap_or("")
}

/// Routes libbpf's messages: to stderr only with PODTOP_DEBUG; warnings are
/// also kept while a load is watched.
pub fn configure() {
    let level = if debug_enabled() { PrintLevel::Debug } else { PrintLevel::Warn };
    libbpf_rs::set_print(Some((level, on_message)));
}

pub fn start_capture() {
    configure();
    *CAPTURED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
}

pub fn finish_capture() -> LoadLog {
    LoadLog { messages: CAPTURED.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default() }
}

/// libbpf's warnings during one load.
pub struct LoadLog {
    messages: Vec<String>,
}

impl LoadLog {
    #[cfg(test)]
    pub fn from_messages(messages: &[&str]) -> LoadLog {
        LoadLog { messages: messages.iter().map(|m| m.to_string()).collect() }
    }

    /// Programs the kernel refused, with the reason in one line: the
    /// verifier's last words where it left any, else libbpf's error.
    pub fn refused_programs(&self) -> Vec<(String, String)> {
        let mut refused: Vec<(String, String)> = Vec::new();
        for message in &self.messages {
            let Some((program, rest)) = program_message(message) else { continue };
            let reason = if let Some(error) = rest.strip_prefix("BPF program load failed: ") {
                Some(format!("refused by the kernel ({})", error.trim()))
            } else if rest.starts_with("-- BEGIN PROG LOAD LOG --") {
                verifier_reason(rest).map(|why| format!("refused by the verifier: {why}"))
            } else {
                rest.strip_prefix("failed to load: ").map(|error| format!("refused by the kernel ({})", error.trim()))
            };
            let Some(reason) = reason else { continue };
            match refused.iter_mut().find(|(p, _)| *p == program) {
                // The verifier's words say more than the error number.
                Some(entry) if reason.starts_with("refused by the verifier") => entry.1 = reason,
                Some(_) => {}
                None => refused.push((program.to_string(), reason)),
            }
        }
        refused
    }
}

/// "libbpf: prog 'NAME': REST" -> (NAME, REST).
fn program_message(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("libbpf: ").unwrap_or(message);
    let rest = rest.strip_prefix("prog '")?;
    let (name, rest) = rest.split_once("': ")?;
    Some((name, rest))
}

/// The verifier's reason: the last line of its log that is not a statistic.
fn verifier_reason(log: &str) -> Option<String> {
    let body = log.split_once('\n')?.1;
    let body = body.split("-- END PROG LOAD LOG --").next().unwrap_or(body);
    body.lines()
        .map(str::trim)
        .rev()
        .find(|line| {
            !line.is_empty()
                && !line.starts_with("processed ")
                && !line.starts_with("verification time")
                && !line.starts_with("stack depth")
                && !line.starts_with("-- ")
        })
        .map(|line| line.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_refused_program_with_the_verifiers_last_words() {
        let log = LoadLog::from_messages(&[
            "libbpf: prog 'on_exec': BPF program load failed: -EINVAL\n",
            "libbpf: prog 'on_exec': -- BEGIN PROG LOAD LOG --\nreg type unsupported for arg#0 function on_exec#83\n\
             313: (95) exit\nUnreleased reference id=3 alloc_insn=118\n\
             processed 257 insns (limit 1000000) max_states_per_insn 2 total_states 22 peak_states 22 mark_read 8\n\
             -- END PROG LOAD LOG --\n",
            "libbpf: prog 'on_exec': failed to load: -22\n",
            "libbpf: failed to load object 'podtop_bpf'\n",
        ]);
        assert_eq!(
            log.refused_programs(),
            vec![("on_exec".to_string(), "refused by the verifier: Unreleased reference id=3 alloc_insn=118".to_string())]
        );
    }

    #[test]
    fn without_a_verifier_log_the_error_is_the_reason() {
        let log = LoadLog::from_messages(&["libbpf: prog 'on_tcp_sendmsg': BPF program load failed: -EPERM\n"]);
        assert_eq!(
            log.refused_programs(),
            vec![("on_tcp_sendmsg".to_string(), "refused by the kernel (-EPERM)".to_string())]
        );
        assert!(LoadLog::from_messages(&["libbpf: map 'events': failed to create: -ENOMEM\n"]).refused_programs().is_empty());
    }
}
