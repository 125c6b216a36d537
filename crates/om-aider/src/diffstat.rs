//! [`DiffStat`]: what a session changed, from `git diff --numstat -z`.

use std::path::PathBuf;

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// The path, relative to the repository root.
    pub path: PathBuf,
    /// Lines added; `None` for a binary file.
    pub added: Option<u64>,
    /// Lines deleted; `None` for a binary file.
    pub deleted: Option<u64>,
}

/// The files a session changed, with line counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffStat {
    /// Every changed file, in git's order.
    pub files: Vec<FileChange>,
}

impl DiffStat {
    /// Parses `git diff --numstat -z --no-renames` output: for each file,
    /// `added TAB deleted TAB path NUL`, with `-` for both counts of a binary
    /// file.
    ///
    /// ```
    /// use om_aider::DiffStat;
    ///
    /// let stat = DiffStat::parse_numstat(b"1\t0\tsrc/a b.py\0-\t-\tlogo.png\0")?;
    /// assert_eq!(stat.files.len(), 2);
    /// assert_eq!((stat.added(), stat.deleted()), (1, 0));
    /// # Ok::<(), om_aider::BadNumstat>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BadNumstat`] when a record does not have that shape.
    pub fn parse_numstat(output: &[u8]) -> Result<Self, BadNumstat> {
        let mut files = Vec::new();
        for record in output.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            // A record may start with the newline git puts between records
            // of some modes; tolerate it.
            let record = record.strip_prefix(b"\n").unwrap_or(record);
            let text = String::from_utf8_lossy(record);
            let bad = || BadNumstat { record: text.to_string() };
            let mut fields = text.splitn(3, '\t');
            let (Some(added), Some(deleted), Some(path)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(bad());
            };
            let count = |field: &str| -> Result<Option<u64>, BadNumstat> {
                if field == "-" { Ok(None) } else { field.parse().map(Some).map_err(|_| bad()) }
            };
            if path.is_empty() {
                return Err(bad());
            }
            files.push(FileChange {
                path: PathBuf::from(path),
                added: count(added)?,
                deleted: count(deleted)?,
            });
        }
        Ok(Self { files })
    }

    /// Lines added over every text file.
    pub fn added(&self) -> u64 {
        self.files.iter().filter_map(|f| f.added).sum()
    }

    /// Lines deleted over every text file.
    pub fn deleted(&self) -> u64 {
        self.files.iter().filter_map(|f| f.deleted).sum()
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A `--numstat` record that is not `added TAB deleted TAB path`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected git numstat record {record:?}")]
pub struct BadNumstat {
    /// The raw `--numstat` record that did not parse.
    pub record: String,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn records_with_odd_paths() {
        let stat =
            DiffStat::parse_numstat(b"3\t1\ta\ttab.txt\0\n0\t2\tline\nbreak\0-\t-\tbin\0").unwrap();
        assert_eq!(
            stat.files,
            [
                FileChange { path: "a\ttab.txt".into(), added: Some(3), deleted: Some(1) },
                FileChange { path: "line\nbreak".into(), added: Some(0), deleted: Some(2) },
                FileChange { path: "bin".into(), added: None, deleted: None },
            ]
        );
        assert_eq!((stat.added(), stat.deleted()), (3, 3));
        assert!(DiffStat::parse_numstat(b"").unwrap().is_empty());
    }

    #[test]
    fn malformed_records_are_errors() {
        for bad in [&b"1\t2\0"[..], b"x\t1\tp\0", b"1\t2\t\0", b"1 2 p\0"] {
            assert!(DiffStat::parse_numstat(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        /// Whatever git prints, parsing does not panic, and well-formed
        /// records come back as written.
        #[test]
        fn round_trip(files in proptest::collection::vec((0u64..10_000, 0u64..10_000, "[a-z/ ._-]{1,20}"), 0..8)) {
            let mut out = Vec::new();
            for (a, d, p) in &files {
                out.extend_from_slice(format!("{a}\t{d}\t{p}\0").as_bytes());
            }
            let stat = DiffStat::parse_numstat(&out).unwrap();
            prop_assert_eq!(stat.files.len(), files.len());
            prop_assert_eq!(stat.added(), files.iter().map(|f| f.0).sum::<u64>());
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = DiffStat::parse_numstat(&bytes);
        }
    }
}
