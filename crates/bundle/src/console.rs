//! Where a command's output goes. Data (what a script reads: the CSP sources, the pins table
//! and its JSON, the files `gen --check` found out of date, completions, the man page) goes to
//! stdout; status lines (what was written, hints, progress) go to stderr and are dropped under
//! `--quiet`. Errors are not printed here: `main` prints them, whatever `--quiet` says.

use std::fmt::Display;
use std::io::{self, Write};

/// The two streams of a command.
pub struct Console<'a> {
    data: &'a mut dyn Write,
    /// `None` under `--quiet`.
    status: Option<&'a mut dyn Write>,
    /// Whether `status` is a terminal, where a progress line can be shown and then erased.
    status_is_terminal: bool,
}

/// Erases the current terminal line: carriage return, then ANSI "erase to end of line".
const ERASE_LINE: &str = "\r\x1b[K";

impl<'a> Console<'a> {
    /// Data to `data`; status lines to `status` unless `quiet`. `status_is_terminal` enables
    /// progress lines.
    pub fn new(
        data: &'a mut dyn Write,
        status: &'a mut dyn Write,
        quiet: bool,
        status_is_terminal: bool,
    ) -> Self {
        Self {
            data,
            status: (!quiet).then_some(status),
            status_is_terminal,
        }
    }

    /// The data stream (stdout).
    pub fn data(&mut self) -> &mut dyn Write {
        self.data
    }

    /// Writes one status line, unless quiet.
    pub fn status(&mut self, line: impl Display) -> io::Result<()> {
        match &mut self.status {
            Some(status) => writeln!(status, "{line}"),
            None => Ok(()),
        }
    }

    /// Shows `text` on the status terminal until [`Console::clear_progress`]; nothing when
    /// quiet or when stderr is not a terminal (a log file would keep every progress line).
    pub fn progress(&mut self, text: impl Display) -> io::Result<()> {
        match &mut self.status {
            Some(status) if self.status_is_terminal => {
                write!(status, "{text}")?;
                status.flush()
            }
            _ => Ok(()),
        }
    }

    /// Erases what [`Console::progress`] showed.
    pub fn clear_progress(&mut self) -> io::Result<()> {
        self.progress(ERASE_LINE)
    }
}
