//! Aider replies checked against a mirror of Aider's own parsing
//! (`WholeFileCoder::get_edits`, `find_original_update_blocks`,
//! `do_replace`), on conversations built the way Aider builds them.

use om_core::wire::{Message, Role};
use regex::Regex;

use super::*;
use crate::reply::{ReplyInput, ReplyMode, compose};

const MODEL: &str = "qwen2.5-coder:7b";

// === Conversations as Aider sends them (prompt wording paraphrased) ===

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Whole,
    Diff,
}

struct Chat<'a> {
    format: Format,
    files: &'a [(&'a str, &'a str)],
    read_only: &'a [(&'a str, &'a str)],
    request: &'a str,
    fence: (&'a str, &'a str),
    /// Models without system prompts get it as a user message plus "Ok.".
    use_system_prompt: bool,
}

impl<'a> Chat<'a> {
    fn new(format: Format, files: &'a [(&'a str, &'a str)], request: &'a str) -> Self {
        Self {
            format,
            files,
            read_only: &[],
            request,
            fence: ("```", "```"),
            use_system_prompt: true,
        }
    }

    fn system_prompt(&self) -> String {
        let (open, close) = self.fence;
        match self.format {
            Format::Whole => format!(
                "Act as a senior developer and make the requested code changes.\n\
                 When a file must change, send the complete updated file.\n\
                 Use this *file listing* format for every file you change:\n\n\
                 path/to/filename.js\n{open}\n// the whole file ...\n{close}\n\n\
                 The first line is only the file path, then the opening fence, the entire \
                 content, and the closing fence.\n"
            ),
            Format::Diff => format!(
                "Act as a senior developer and make the requested code changes.\n\
                 Describe every change with a *SEARCH/REPLACE block*:\n\
                 the file path alone on a line, the opening fence {open}, the line \
                 <<<<<<< SEARCH, the exact lines to find, =======, the new lines, \
                 >>>>>>> REPLACE and the closing fence {close}.\n"
            ),
        }
    }

    /// `Coder::get_files_content`: `\n` + path + `\n` + fence + `\n` +
    /// content + fence + `\n` per file.
    fn listing(&self, files: &[(&str, &str)]) -> String {
        let (open, close) = self.fence;
        let mut out = String::new();
        for (path, content) in files {
            out.push_str(&["\n", path, "\n", open, "\n", content, close, "\n"].concat());
        }
        out
    }

    fn messages(&self) -> Vec<Message> {
        let system = self.system_prompt();
        let mut m = Vec::new();
        if self.use_system_prompt {
            m.push(Message::new(Role::System, system));
        } else {
            m.push(Message::new(Role::User, system));
            m.push(Message::new(Role::Assistant, "Ok."));
        }
        // An example exchange naming other files, then the reset.
        m.push(Message::new(Role::User, "Make the greeting friendlier."));
        let (open, close) = self.fence;
        m.push(Message::new(
            Role::Assistant,
            format!("Sure.\n\ndemo/greet.py\n{open}\nprint(\"hey\")\n{close}\n"),
        ));
        m.push(Message::new(Role::User, "New code base now; ignore those example files."));
        m.push(Message::new(Role::Assistant, "Ok."));
        if !self.read_only.is_empty() {
            m.push(Message::new(
                Role::User,
                format!(
                    "Here are some READ ONLY files, for reference only.\n{}",
                    self.listing(self.read_only)
                ),
            ));
            m.push(Message::new(Role::Assistant, "Ok, I will use these files as references."));
        }
        if !self.files.is_empty() {
            m.push(Message::new(
                Role::User,
                format!(
                    "I have *added these files to the chat* so you can go ahead and edit them.\n\n\
                     Treat this message as their true contents.\n{}",
                    self.listing(self.files)
                ),
            ));
            m.push(Message::new(
                Role::Assistant,
                "Ok, any changes I propose will be to those files.",
            ));
        }
        m.push(Message::new(Role::User, format!("{}\n\n{}", self.request, self.system_prompt())));
        m
    }

    fn reply(&self) -> String {
        let messages = self.messages();
        let input =
            ReplyInput { model: MODEL, system: None, messages: &messages, tools: &[], seed: 7 };
        compose(&ReplyMode::Aider, &input).text
    }

    fn chat_paths(&self) -> Vec<&str> {
        self.files.iter().map(|(p, _)| *p).collect()
    }
}

fn marked(content: &str) -> String {
    let mut out = content.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# edited-by: ");
    out.push_str(MODEL);
    out.push('\n');
    out
}

// === A mirror of Aider's whole-file parsing (`WholeFileCoder::get_edits`) ===

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parse_whole(reply: &str, fence: (&str, &str), chat_files: &[&str]) -> Vec<(String, String)> {
    let lines: Vec<&str> = reply.split_inclusive('\n').collect();
    let mut edits = Vec::new();
    let mut saw_fname: Option<String> = None;
    let mut fname: Option<String> = None;
    let mut new_lines = String::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with(fence.0) || line.starts_with(fence.1) {
            if let Some(done) = fname.take() {
                edits.push((done, std::mem::take(&mut new_lines)));
                saw_fname = None;
                continue;
            }
            let mut name = String::new();
            if i > 0 {
                let f = lines[i - 1].trim().trim_matches('*').trim_end_matches(':');
                let f = f.trim_matches('`').trim_start_matches('#').trim();
                name = if f.len() > 250 { String::new() } else { f.to_owned() };
                if !name.is_empty()
                    && !chat_files.contains(&name.as_str())
                    && chat_files.contains(&basename(&name))
                {
                    name = basename(&name).to_owned();
                }
            }
            if name.is_empty() {
                name = match (&saw_fname, chat_files) {
                    (Some(saw), _) => saw.clone(),
                    (None, [only]) => (*only).to_owned(),
                    _ => panic!("No filename provided before {} in file listing", fence.0),
                };
            }
            fname = Some(name);
        } else if fname.is_some() {
            new_lines.push_str(line);
        } else {
            for word in line.split_whitespace() {
                let word = word.trim_end_matches(['.', ':', ',', ';', '!']);
                if let Some(f) = chat_files.iter().find(|f| word == format!("`{f}`")) {
                    saw_fname = Some((*f).to_owned());
                }
            }
        }
    }
    if let Some(done) = fname {
        edits.push((done, new_lines));
    }
    edits
}

// === A mirror of Aider's edit-block parsing and application ===

struct Separators {
    head: Regex,
    divider: Regex,
    updated: Regex,
}

fn separators() -> Separators {
    Separators {
        head: Regex::new(r"^<{5,9} SEARCH>?\s*$").unwrap(),
        divider: Regex::new(r"^={5,9}\s*$").unwrap(),
        updated: Regex::new(r"^>{5,9} REPLACE\s*$").unwrap(),
    }
}

/// `strip_filename`.
fn strip_filename(line: &str, fence: (&str, &str)) -> Option<String> {
    let name = line.trim();
    if name == "..." {
        return None;
    }
    for start in [fence.0, "```"] {
        if let Some(candidate) = name.strip_prefix(start) {
            return (!candidate.is_empty() && (candidate.contains('.') || candidate.contains('/')))
                .then(|| candidate.to_owned());
        }
    }
    let name = name.trim_end_matches(':').trim_start_matches('#').trim();
    let name = name.trim_matches('`').trim_matches('*');
    (!name.is_empty()).then(|| name.to_owned())
}

/// `find_filename` over the (up to) three lines before a SEARCH head.
fn find_filename(before: &[&str], fence: (&str, &str), valid: &[&str]) -> Option<String> {
    let mut names = Vec::new();
    for line in before.iter().rev().take(3) {
        if let Some(name) = strip_filename(line, fence) {
            names.push(name);
        }
        if !line.starts_with(fence.0) && !line.starts_with("```") {
            break;
        }
    }
    if let Some(exact) = names.iter().find(|n| valid.contains(&n.as_str())) {
        return Some(exact.clone());
    }
    for name in &names {
        if let Some(v) = valid.iter().find(|v| basename(v) == name) {
            return Some((*v).to_owned());
        }
    }
    names.iter().find(|n| n.contains('.')).or(names.first()).cloned()
}

/// `find_original_update_blocks` (without the shell-block branch, which a
/// correct reply never triggers).
fn parse_blocks(reply: &str, fence: (&str, &str), valid: &[&str]) -> Vec<(String, String, String)> {
    let s = separators();
    let lines: Vec<&str> = reply.split_inclusive('\n').collect();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        if s.head.is_match(lines[i].trim()) {
            let before = &lines[i.saturating_sub(3)..i];
            let new_file = i + 1 < lines.len() && s.divider.is_match(lines[i + 1].trim());
            let name = find_filename(before, fence, if new_file { &[] } else { valid })
                .or_else(|| current.clone())
                .expect("Bad/missing filename");
            current = Some(name.clone());
            let mut original = String::new();
            i += 1;
            while i < lines.len() && !s.divider.is_match(lines[i].trim()) {
                original.push_str(lines[i]);
                i += 1;
            }
            assert!(i < lines.len(), "Expected `=======`");
            let mut updated = String::new();
            i += 1;
            while i < lines.len()
                && !(s.updated.is_match(lines[i].trim()) || s.divider.is_match(lines[i].trim()))
            {
                updated.push_str(lines[i]);
                i += 1;
            }
            assert!(i < lines.len(), "Expected `>>>>>>> REPLACE` or `=======`");
            blocks.push((name, original, updated));
        }
        i += 1;
    }
    blocks
}

/// `strip_quoted_wrapping`.
fn strip_wrapping(text: &str, fname: &str, fence: (&str, &str)) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut lines: Vec<&str> = text.lines().collect();
    if lines[0].trim().ends_with(basename(fname)) {
        lines.remove(0);
    }
    // Aider indexes `res[0]` here and would crash on an emptied block.
    assert!(!lines.is_empty(), "Aider would raise IndexError on this block");
    if lines[0].starts_with(fence.0) && lines[lines.len() - 1].starts_with(fence.1) {
        lines = lines[1..lines.len() - 1].to_vec();
    }
    let mut out = lines.join("\n");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// `do_replace` with `perfect_replace` (the first exact match of the lines).
fn apply_block(
    content: &str,
    fname: &str,
    before: &str,
    after: &str,
    fence: (&str, &str),
) -> Option<String> {
    let before = strip_wrapping(before, fname, fence);
    let after = strip_wrapping(after, fname, fence);
    if before.trim().is_empty() {
        return Some(format!("{content}{after}"));
    }
    let prep = |t: &str| {
        let t = if !t.is_empty() && !t.ends_with('\n') { format!("{t}\n") } else { t.to_owned() };
        t.split_inclusive('\n').map(str::to_owned).collect::<Vec<_>>()
    };
    let (whole, part, replace) = (prep(content), prep(&before), prep(&after));
    let at = (0..=whole.len().checked_sub(part.len())?)
        .find(|&i| whole[i..i + part.len()] == part[..])?;
    Some([&whole[..at], &replace[..], &whole[at + part.len()..]].concat().concat())
}

/// Runs a diff-format reply through the mirror and returns the edited files.
fn apply_diff_reply(chat: &Chat<'_>, reply: &str) -> Vec<(String, String)> {
    let paths = chat.chat_paths();
    parse_blocks(reply, chat.fence, &paths)
        .into_iter()
        .map(|(name, before, after)| {
            let content = chat.files.iter().find(|(p, _)| *p == name).expect("edits a chat file").1;
            let new =
                apply_block(content, &name, &before, &after, chat.fence).expect("SEARCH matches");
            (name, new)
        })
        .collect()
}

// === Tests ===

const APP: &str = "import sys\n\n\ndef main():\n    print(\"hi\")\n\n\nif __name__ == \"__main__\":\n    main()\n";
const UTIL: &str = "def add(a, b):\n    return a + b\n";

#[test]
fn whole_file_round_trips() {
    let files = [("app.py", APP), ("lib/util.py", UTIL)];
    let chat = Chat::new(Format::Whole, &files, "Please tidy up app.py.");
    let reply = chat.reply();
    let edits = parse_whole(&reply, chat.fence, &chat.chat_paths());
    assert_eq!(edits, vec![("app.py".to_owned(), marked(APP))], "{reply}");
}

#[test]
fn whole_file_picks_the_mentioned_file_else_the_first() {
    let files = [("app.py", APP), ("lib/util.py", UTIL)];
    let chat = Chat::new(Format::Whole, &files, "Add a docstring to lib/util.py, thanks");
    let edits = parse_whole(&chat.reply(), chat.fence, &chat.chat_paths());
    assert_eq!(edits, vec![("lib/util.py".to_owned(), marked(UTIL))]);

    // `util.py` alone is not the path of `lib/util.py`.
    let chat = Chat::new(Format::Whole, &files, "Make util.py faster.");
    let edits = parse_whole(&chat.reply(), chat.fence, &chat.chat_paths());
    assert_eq!(edits[0].0, "app.py");
}

#[test]
fn whole_file_without_final_newline_and_empty_files() {
    let files = [("notes.txt", "first\nlast line"), ("empty.txt", "")];
    let chat = Chat::new(Format::Whole, &files, "edit notes.txt");
    let edits = parse_whole(&chat.reply(), chat.fence, &chat.chat_paths());
    assert_eq!(
        edits,
        vec![(
            "notes.txt".to_owned(),
            "first\nlast line\n# edited-by: qwen2.5-coder:7b\n".to_owned()
        )]
    );

    let chat = Chat::new(Format::Whole, &files, "fill in empty.txt");
    let edits = parse_whole(&chat.reply(), chat.fence, &chat.chat_paths());
    assert_eq!(edits, vec![("empty.txt".to_owned(), marked(""))]);
}

#[test]
fn search_replace_round_trips() {
    let files = [("app.py", APP), ("lib/util.py", UTIL)];
    let chat = Chat::new(Format::Diff, &files, "Please tidy up app.py.");
    let reply = chat.reply();
    assert!(reply.contains("<<<<<<< SEARCH\n    main()\n=======\n"), "{reply}");
    assert_eq!(apply_diff_reply(&chat, &reply), vec![("app.py".to_owned(), marked(APP))]);

    let chat = Chat::new(Format::Diff, &files, "now lib/util.py");
    assert_eq!(
        apply_diff_reply(&chat, &chat.reply()),
        vec![("lib/util.py".to_owned(), marked(UTIL))]
    );
}

#[test]
fn search_replace_grows_until_the_tail_is_unique() {
    let code = "fn a() {\n    1\n}\n\nfn b() {\n    2\n}\n";
    let files = [("src/lib.rs", code)];
    let chat = Chat::new(Format::Diff, &files, "edit src/lib.rs");
    let reply = chat.reply();
    // `}` alone would match the end of `a` first.
    assert!(reply.contains("<<<<<<< SEARCH\n    2\n}\n=======\n    2\n}\n# edited-by"), "{reply}");
    assert_eq!(apply_diff_reply(&chat, &reply), vec![("src/lib.rs".to_owned(), marked(code))]);
}

#[test]
fn search_replace_edge_cases_apply_cleanly() {
    let cases: [(&str, &str); 6] = [
        ("tail.txt", "alpha\nbeta"),
        ("empty.py", ""),
        ("blank.md", "\n\n"),
        // The last line ends with the file's name: Aider would drop it from SEARCH.
        ("utils.py", "x = 1\n# helpers for utils.py\n"),
        // A separator-like tail: SEARCH must stay empty (append).
        ("README.rst", "Title\n=======\n"),
        ("trailing.txt", "one\ntwo\n\n   \n"),
    ];
    for (path, content) in cases {
        let files = [(path, content)];
        let chat = Chat::new(Format::Diff, &files, "go ahead");
        let reply = chat.reply();
        assert_eq!(
            apply_diff_reply(&chat, &reply),
            vec![(path.to_owned(), marked(content))],
            "{reply}"
        );
    }
}

#[test]
fn other_fences_are_followed() {
    // A file with a line starting with ``` makes Aider switch to ````.
    let doc = "# Usage\n```sh\nrun\n```\n";
    let files = [("README.md", doc)];
    for format in [Format::Whole, Format::Diff] {
        let mut chat = Chat::new(format, &files, "update README.md");
        chat.fence = ("````", "````");
        let reply = chat.reply();
        assert!(reply.contains("README.md\n````\n"), "{reply}");
        let edits = match format {
            Format::Whole => parse_whole(&reply, chat.fence, &chat.chat_paths()),
            Format::Diff => apply_diff_reply(&chat, &reply),
        };
        assert_eq!(edits, vec![("README.md".to_owned(), marked(doc))]);
    }
    let mut chat = Chat::new(Format::Whole, &[("a.py", "x = 1\n")], "edit a.py");
    chat.fence = ("<source>", "</source>");
    assert!(
        chat.reply().contains("a.py\n<source>\nx = 1\n# edited-by: qwen2.5-coder:7b\n</source>\n")
    );
}

#[test]
fn format_detected_without_a_system_role() {
    let files = [("app.py", APP)];
    let mut chat = Chat::new(Format::Diff, &files, "edit app.py");
    chat.use_system_prompt = false;
    let reply = chat.reply();
    assert!(reply.contains(">>>>>>> REPLACE"), "{reply}");
    assert_eq!(apply_diff_reply(&chat, &reply), vec![("app.py".to_owned(), marked(APP))]);
}

#[test]
fn read_only_files_are_not_edited() {
    let files = [("app.py", APP)];
    let read_only = [("CONVENTIONS.md", "Use tabs.\n")];
    let mut chat = Chat::new(Format::Whole, &files, "follow CONVENTIONS.md");
    chat.read_only = &read_only;
    let edits = parse_whole(&chat.reply(), chat.fence, &chat.chat_paths());
    assert_eq!(edits, vec![("app.py".to_owned(), marked(APP))]);
}

#[test]
fn no_files_gets_a_plain_sentence() {
    for format in [Format::Whole, Format::Diff] {
        let chat = Chat::new(format, &[], "write a script");
        let reply = chat.reply();
        assert_eq!(reply, NO_FILES);
        assert!(parse_whole(&reply, chat.fence, &[]).is_empty());
        assert!(parse_blocks(&reply, chat.fence, &[]).is_empty());
    }
}

#[test]
fn commit_and_summary_prompts() {
    let ask = |system: &str| {
        let messages =
            [Message::new(Role::System, system), Message::new(Role::User, "# Diffs:\n+x")];
        let input =
            ReplyInput { model: MODEL, system: None, messages: &messages, tools: &[], seed: 0 };
        compose(&ReplyMode::Aider, &input).text
    };
    let commit = ask(
        "You write one-line Git commit messages for diffs. Reply only with the commit message.",
    );
    assert_eq!(commit, COMMIT_MESSAGE);
    assert!(!commit.contains('\n'));
    assert_eq!(ask("*Briefly* summarize this partial conversation about programming."), SUMMARY);
}

#[test]
fn files_message_parsing() {
    let text = "I have *added these files to the chat* so you can edit them.\n\
                \na.py\n```\nx = 1```\n\
                \nb/c.txt\n```\nend``` here\nmore\n```\n\
                \nempty\n```\n```\n";
    let files = parse_files(text);
    let got: Vec<(&str, &str)> =
        files.iter().map(|f| (f.path.as_str(), f.content.as_str())).collect();
    assert_eq!(got, [("a.py", "x = 1"), ("b/c.txt", "end``` here\nmore\n"), ("empty", "")]);
    assert!(files.iter().all(|f| f.fence == ("```", "```")));
}

#[test]
fn path_mentions() {
    assert!(mentions_path("edit app.py please", "app.py"));
    assert!(mentions_path("edit app.py.", "app.py"));
    assert!(mentions_path("`app.py`", "app.py"));
    assert!(!mentions_path("edit app.pyc", "app.py"));
    assert!(!mentions_path("edit app.py.bak", "app.py"));
    assert!(!mentions_path("edit myapp.py", "app.py"));
    assert!(!mentions_path("edit src/app.py", "app.py"));
    assert!(mentions_path("edit src/app.py", "src/app.py"));
}

#[test]
fn separators_match_aiders_patterns() {
    let s = separators();
    for line in [
        "<<<<<<< SEARCH",
        "<<<<< SEARCH>",
        "=======",
        "  =====  ",
        ">>>>>>>>> REPLACE",
        "=========",
        "<<<<<<<<<< SEARCH",
        "==== ",
        "x =======",
        ">>>>>>> REPLACED",
    ] {
        let aider = s.head.is_match(line.trim())
            || s.divider.is_match(line.trim())
            || s.updated.is_match(line.trim());
        assert_eq!(is_separator(line), aider, "{line:?}");
    }
}

#[test]
fn reply_is_deterministic() {
    let files = [("app.py", APP)];
    let chat = Chat::new(Format::Diff, &files, "edit app.py");
    assert_eq!(chat.reply(), chat.reply());
}
