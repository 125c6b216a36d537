//! Replies in the shapes Aider parses, so an end-to-end Aider run against the
//! simulator makes a checkable edit.
//!
//! How Aider talks to the model (aider-chat 0.86, `aider/coders/`):
//!
//! - The editable files travel in one user message that starts with
//!   "I have *added these files to the chat* so you can go ahead and edit
//!   them." followed, per file, by `"\n" + path + "\n" + fence + "\n" +
//!   content + fence + "\n"` (`Coder::get_files_content`). The content is sent
//!   as is, so a file without a final newline has the closing fence glued to
//!   its last line. Read-only files come in a different message and are never
//!   edited here.
//! - The fence is three backticks unless a file has a line starting with
//!   them; then four backticks, `<source>`, `<code>`, … (`Coder::choose_fence`).
//! - The edit format is told by the system prompt (sent as a user message for
//!   models without system prompts): the "diff" coder asks for
//!   *SEARCH/REPLACE blocks*, the "whole" coder for *file listings*.
//! - Aider also asks the same model for commit messages and history
//!   summaries, each with its own system prompt.
//!
//! The reply edits one file: the first chat file whose path the last user
//! message mentions, else the first chat file, appending the line
//! `# edited-by: <model>`. Whole-file replies are the path on its own line and
//! a fenced block with the full new content (`WholeFileCoder::get_edits`);
//! SEARCH/REPLACE replies search for the file's tail, from its last non-empty
//! line on, and replace it with the same lines plus the marker
//! (`find_original_update_blocks`, `do_replace`). Both leave the file with
//! the same content.

use om_core::wire::{Message, Role};

use super::ReplyInput;

/// Marks the user message that carries the editable files.
const FILES_MESSAGE_MARK: &str = "added these files to the chat";

/// Aider's fences, in its order of preference (`all_fences`).
const FENCES: [(&str, &str); 7] = [
    ("```", "```"),
    ("````", "````"),
    ("<source>", "</source>"),
    ("<code>", "</code>"),
    ("<pre>", "</pre>"),
    ("<codeblock>", "</codeblock>"),
    ("<sourcecode>", "</sourcecode>"),
];

/// The answer when no file is in the chat.
const NO_FILES: &str =
    "There are no files in the chat yet. Add the files you want me to edit and ask again.";

/// The answer to Aider's commit-message prompt.
const COMMIT_MESSAGE: &str = "chore: append edited-by marker";

/// The answer to Aider's chat-history summary prompt.
const SUMMARY: &str = "I asked you to edit the files in the chat, and you appended an edited-by marker line to one of them.";

/// How Aider wants edits written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EditFormat {
    /// `path` line + fenced full content (`--edit-format whole`).
    WholeFile,
    /// `path` line + fenced SEARCH/REPLACE block (`--edit-format diff`).
    SearchReplace,
}

/// A file Aider put in the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChatFile {
    path: String,
    content: String,
    fence: (&'static str, &'static str),
}

/// The reply to an Aider request.
pub(super) fn reply(input: &ReplyInput<'_>, request: &str) -> String {
    let system = system_prompt(input, false);
    if system.contains("commit message") {
        return COMMIT_MESSAGE.to_owned();
    }
    if system.contains("summarize this partial conversation") {
        return SUMMARY.to_owned();
    }
    let files = chat_files(input.messages);
    let Some(first) = files.first() else {
        return NO_FILES.to_owned();
    };
    let target = files.iter().find(|f| mentions_path(request, &f.path)).unwrap_or(first);
    let marker = format!("# edited-by: {}\n", input.model);
    match edit_format(&system_prompt(input, true)) {
        EditFormat::WholeFile => whole_file(target, &marker),
        EditFormat::SearchReplace => search_replace(target, &marker),
    }
}

/// The system prompt text, lower-cased: `system`, every system message and,
/// with `first_user`, a leading user message (Aider's form for models that
/// take no system prompt).
fn system_prompt(input: &ReplyInput<'_>, first_user: bool) -> String {
    let mut text = input.system.unwrap_or_default().to_lowercase();
    for (i, m) in input.messages.iter().enumerate() {
        if m.role == Role::System || (first_user && i == 0 && m.role == Role::User) {
            text.push('\n');
            text.push_str(&m.content.to_lowercase());
        }
    }
    text
}

fn edit_format(system: &str) -> EditFormat {
    if system.contains("search/replace") {
        EditFormat::SearchReplace
    } else {
        EditFormat::WholeFile
    }
}

/// The files of the latest files message, in order.
fn chat_files(messages: &[Message]) -> Vec<ChatFile> {
    messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User && m.content.contains(FILES_MESSAGE_MARK))
        .map(|m| parse_files(&m.content))
        .unwrap_or_default()
}

/// `line` without its line break.
fn bare(line: &str) -> &str {
    line.strip_suffix('\n').map_or(line, |l| l.strip_suffix('\r').unwrap_or(l))
}

fn opener(line: &str) -> Option<(&'static str, &'static str)> {
    let line = bare(line);
    FENCES.iter().copied().find(|(open, _)| line == *open)
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Parses `\npath\n<fence>\ncontent<fence>\n` listings out of a message.
fn parse_files(text: &str) -> Vec<ChatFile> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // A file header: a blank line (or the start), the path, an opening fence.
    let header_at = |i: usize| {
        i + 1 < lines.len()
            && !is_blank(lines[i])
            && (i == 0 || is_blank(lines[i - 1]))
            && opener(lines[i + 1]).is_some()
    };
    let mut files = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(fence) = header_at(i).then(|| opener(lines[i + 1])).flatten() else {
            i += 1;
            continue;
        };
        let mut content = String::new();
        let mut j = i + 2;
        let mut closed = false;
        while j < lines.len() {
            let line = bare(lines[j]);
            j += 1;
            if line == fence.1 {
                closed = true;
                break;
            }
            // A file without a final newline: the closing fence ends its last
            // line, and the listing is followed by the next header or nothing.
            if let Some(last) = line.strip_suffix(fence.1) {
                let next_is_boundary = j == lines.len()
                    || (is_blank(lines[j]) && (j + 1 == lines.len() || header_at(j + 1)));
                if next_is_boundary {
                    content.push_str(last);
                    closed = true;
                    break;
                }
            }
            content.push_str(lines[j - 1]);
        }
        if closed {
            files.push(ChatFile { path: bare(lines[i]).trim().to_owned(), content, fence });
            i = j;
        } else {
            i += 1;
        }
    }
    files
}

/// True when `text` names `path` as a whole path (not as part of a longer one).
fn mentions_path(text: &str, path: &str) -> bool {
    if path.is_empty() {
        return false;
    }
    let path_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '\\');
    text.match_indices(path).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let mut after = text[at + path.len()..].chars();
        let next = after.next();
        let ok_before = !before.is_some_and(|c| path_char(c) || c == '.');
        // A full stop may end the sentence, but not start an extension.
        let ok_after = match next {
            None => true,
            Some('.') => !after.next().is_some_and(path_char),
            Some(c) => !path_char(c),
        };
        ok_before && ok_after
    })
}

/// `content` with the marker line appended (after a line break if needed).
fn with_marker(content: &str, marker: &str) -> String {
    let mut out = content.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(marker);
    out
}

fn whole_file(file: &ChatFile, marker: &str) -> String {
    let (open, close) = file.fence;
    format!(
        "Here is the updated `{path}` with the marker line appended:\n\n{path}\n{open}\n{content}{close}\n",
        path = file.path,
        content = with_marker(&file.content, marker),
    )
}

fn search_replace(file: &ChatFile, marker: &str) -> String {
    let (open, close) = file.fence;
    let basename = file.path.rsplit(['/', '\\']).next().unwrap_or(&file.path);
    let (search, replace) = sections(&file.content, basename, marker);
    format!(
        "I will append the marker line to `{path}`.\n\n{path}\n{open}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{close}\n",
        path = file.path,
    )
}

/// The SEARCH and REPLACE texts that append `marker` to `content`.
///
/// SEARCH is the tail of the file from its last non-empty line, grown upwards
/// until Aider's first-match replacement can only hit the end of the file.
/// Aider drops a SEARCH's first line when it ends with the file's name
/// (`strip_quoted_wrapping`) and stops a block at a separator-like line, so
/// such starts are skipped; when no tail qualifies, SEARCH is empty, which
/// Aider treats as "append".
fn sections(content: &str, basename: &str, marker: &str) -> (String, String) {
    let lines: Vec<String> = content
        .split_inclusive('\n')
        .map(|l| if l.ends_with('\n') { l.to_owned() } else { format!("{l}\n") })
        .collect();
    if let Some(last) = lines.iter().rposition(|l| !is_blank(l)) {
        for start in (0..=last).rev() {
            let tail = &lines[start..];
            if is_separator(&lines[start]) {
                break;
            }
            let first = lines[start].trim();
            if first.is_empty() || (!basename.is_empty() && first.ends_with(basename)) {
                continue;
            }
            let occurrences = (0..=lines.len() - tail.len())
                .filter(|&i| lines[i..i + tail.len()] == *tail)
                .count();
            if occurrences == 1 {
                let search = tail.concat();
                let replace = format!("{search}{marker}");
                return (search, replace);
            }
        }
    }
    let glue = if !content.is_empty() && !content.ends_with('\n') { "\n" } else { "" };
    (String::new(), format!("{glue}{marker}"))
}

/// True for lines Aider reads as `<<<<<<< SEARCH`, `=======` or
/// `>>>>>>> REPLACE` (5 to 9 marks, surrounding spaces ignored).
fn is_separator(line: &str) -> bool {
    let line = line.trim();
    let run = |mark: char| line.chars().take_while(|c| *c == mark).count();
    let (lt, eq, gt) = (run('<'), run('='), run('>'));
    ((5..=9).contains(&lt) && matches!(&line[lt..], " SEARCH" | " SEARCH>"))
        || ((5..=9).contains(&eq) && eq == line.len())
        || ((5..=9).contains(&gt) && &line[gt..] == " REPLACE")
}

#[cfg(test)]
mod tests;
