//! What can go wrong with templates, told so an operator can find the line to fix.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// A template could not be loaded, parsed or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The override directory or a file in it could not be read.
    #[error("cannot read template {}: {source}", path.display())]
    Read {
        /// The directory or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A template has a syntax error, or failed when rendered (an unknown filter, a missing
    /// variable, a bad time format). `file` is where the template came from: the override
    /// file's path, or `templates/<name> (built in)`.
    #[error("template {file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Template {
        /// The file the template came from.
        file: String,
        /// The line of the error, when minijinja knows it.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

impl TemplateError {
    /// Converts a minijinja error, naming the file each template came from (`origins` maps
    /// template names to files; `fallback` names the template being rendered).
    pub(crate) fn from_minijinja(
        error: &minijinja::Error,
        origins: &BTreeMap<String, String>,
        fallback: &str,
    ) -> Self {
        let name = error.name().unwrap_or(fallback);
        let file = origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned());
        let mut message = error.kind().to_string();
        if let Some(detail) = error.detail() {
            let _ = write!(message, ": {detail}");
        }
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            let _ = write!(message, " ({cause})");
            source = cause.source();
        }
        Self::Template {
            file,
            line: error.line(),
            message,
        }
    }
}
