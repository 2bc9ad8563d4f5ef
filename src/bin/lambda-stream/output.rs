//! Where `get` writes: stdout, or a file with its state kept beside it after each complete
//! page, so that `--resume` continues an interrupted download from its last complete page and
//! the file ends byte-identical to an uninterrupted run.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What is kept beside the file after each page (`<file>.get-state`, written atomically).
#[derive(Debug, Serialize, Deserialize)]
struct State {
    /// The URL the download started from.
    url: String,
    /// Where the client stands (`Client::resume`).
    checkpoint: String,
    /// The file's length when that page ended.
    bytes: u64,
    /// Pages complete.
    pages: u64,
}

/// The records' destination.
pub(crate) enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File(FileOutput),
}

/// A file, and its state beside it.
pub(crate) struct FileOutput {
    file: BufWriter<File>,
    url: String,
    state_path: PathBuf,
    pages: u64,
    /// What an interrupted download had written, kept for `--resume`.
    kept: u64,
}

impl Output {
    /// Opens where the records of `url` go; with `resume`, the checkpoint of an interrupted
    /// download of the same URL to that file (its file cut back to the last complete page).
    pub(crate) fn open(
        path: Option<&Path>,
        url: &str,
        resume: bool,
    ) -> Result<(Output, Option<String>), String> {
        let Some(path) = path else {
            return Ok((Output::Stdout(BufWriter::new(std::io::stdout())), None));
        };
        let state_path = state_path(path);
        let state = if resume {
            read_state(&state_path, url)?
        } else {
            None
        };
        let shown = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(shown)?;
        let (bytes, pages, checkpoint) =
            state.map_or((0, 0, None), |s| (s.bytes, s.pages, Some(s.checkpoint)));
        file.set_len(bytes).map_err(shown)?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(shown)?;
        let output = FileOutput {
            file: BufWriter::new(file),
            url: url.to_owned(),
            state_path,
            pages,
            kept: bytes,
        };
        Ok((Output::File(output), checkpoint))
    }

    /// Whether the output holds what an interrupted download wrote (resumed).
    pub(crate) fn resumed_with_data(&self) -> bool {
        matches!(self, Output::File(out) if out.kept > 0)
    }

    pub(crate) fn record(&mut self, record: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.write_all(record),
            Output::File(out) => out.file.write_all(record),
        }
    }

    /// Hands what was written to the file or the pipe (without syncing it to disk).
    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File(out) => out.file.flush(),
        }
    }

    /// A page ended: what it wrote is flushed (and on disk, for a file, before its state says
    /// so); `checkpoint` is where the download stands, `None` after the last page.
    pub(crate) fn page_end(&mut self, checkpoint: Option<&str>) -> std::io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File(out) => out.page_end(checkpoint),
        }
    }
}

impl FileOutput {
    fn page_end(&mut self, checkpoint: Option<&str>) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        self.pages += 1;
        let Some(checkpoint) = checkpoint else {
            // Complete: nothing to resume.
            return match std::fs::remove_file(&self.state_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        };
        let state = State {
            url: self.url.clone(),
            checkpoint: checkpoint.to_owned(),
            bytes: self.file.get_ref().metadata()?.len(),
            pages: self.pages,
        };
        let partial = self.state_path.with_extension("get-state.partial");
        std::fs::write(&partial, serde_json::to_vec(&state)?)?;
        std::fs::rename(&partial, &self.state_path)
    }
}

/// `<file>.get-state`.
fn state_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".get-state");
    PathBuf::from(name)
}

/// The state of an interrupted download of `url`, if one is kept (none: start over).
fn read_state(state_path: &Path, url: &str) -> Result<Option<State>, String> {
    let text = match std::fs::read(state_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", state_path.display())),
    };
    let state: State = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: not a download's state: {e}", state_path.display()))?;
    if state.url != url {
        return Err(format!(
            "{} is the state of a download of {}, not of {url}",
            state_path.display(),
            state.url
        ));
    }
    Ok(Some(state))
}
