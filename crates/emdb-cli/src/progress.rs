//! Progress bars for long work, hidden with `--quiet` or when stdout is not a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

pub(crate) struct Progress {
    visible: bool,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Self {
        Progress {
            visible: !quiet && std::io::stdout().is_terminal(),
        }
    }

    /// A bar over `total` units (records or bytes).
    pub(crate) fn bar(&self, total: u64, what: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        let template = format!("{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{eta}})");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    /// A spinner for work of unknown length.
    pub(crate) fn spinner(&self, what: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    }
}
