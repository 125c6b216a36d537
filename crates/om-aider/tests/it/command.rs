//! The command builder: table tests over every mode and flag combination.

use std::ffi::OsString;
use std::path::PathBuf;

use om_aider::{AiderCommand, ApiKey, Commits, EditFormat, HEADLESS_FLAGS, Mode};

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter().map(|a| a.to_str().expect("test arguments are UTF-8").to_owned()).collect()
}

fn base() -> AiderCommand {
    AiderCommand::new(
        "/opt/aider/bin/aider",
        "qwen2.5-coder:7b".parse().expect("a valid model name"),
    )
}

/// Whole argument vectors for the main shapes, written out by hand.
#[test]
fn explicit_argument_vectors() {
    let headless: Vec<String> = HEADLESS_FLAGS.iter().map(|f| (*f).to_owned()).collect();
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
        v.extend(headless.iter().cloned());
        v.extend(tail.iter().map(|s| (*s).to_owned()));
        v
    };
    let cases: Vec<(&str, AiderCommand, Vec<String>)> = vec![
        (
            "code, defaults",
            base().message("hi"),
            with(&["--model", "ollama_chat/qwen2.5-coder:7b", "--message=hi"], &["--auto-commits"]),
        ),
        (
            "code, diff, one file",
            base().edit_format(EditFormat::Diff).message("fix it").file("a.py"),
            with(
                &[
                    "--model",
                    "ollama_chat/qwen2.5-coder:7b",
                    "--edit-format",
                    "diff",
                    "--message=fix it",
                ],
                &["--auto-commits", "--", "a.py"],
            ),
        ),
        (
            "ask ignores the edit format",
            base().mode(Mode::Ask).edit_format(EditFormat::Whole).message("why?").file("a.py"),
            with(
                &[
                    "--model",
                    "ollama_chat/qwen2.5-coder:7b",
                    "--chat-mode",
                    "ask",
                    "--message=why?",
                ],
                &["--auto-commits", "--", "a.py"],
            ),
        ),
        (
            "architect with its own editor and the editor's format",
            base()
                .mode(Mode::Architect)
                .editor_model("llama3.2".parse().unwrap())
                .edit_format(EditFormat::EditorDiff)
                .message("plan")
                .commits(Commits::Session),
            with(
                &[
                    "--model",
                    "ollama_chat/qwen2.5-coder:7b",
                    "--architect",
                    "--auto-accept-architect",
                    "--editor-model",
                    "ollama_chat/llama3.2:latest",
                    "--editor-edit-format",
                    "editor-diff",
                    "--message=plan",
                ],
                &["--no-auto-commits"],
            ),
        ),
        (
            "architect defaults the editor to the main model",
            base().mode(Mode::Architect).message_file("/tmp/msg.md").commits(Commits::Off),
            with(
                &[
                    "--model",
                    "ollama_chat/qwen2.5-coder:7b",
                    "--architect",
                    "--auto-accept-architect",
                    "--editor-model",
                    "ollama_chat/qwen2.5-coder:7b",
                    "--message-file=/tmp/msg.md",
                ],
                &["--no-auto-commits"],
            ),
        ),
        (
            "weak model, history files, read-only files, extras, files",
            base()
                .weak_model("llama3.2:1b".parse().unwrap())
                .message("m")
                .chat_history_file("/logs/t.chat.md")
                .input_history_file("/logs/t.input.history")
                .read_only("docs/API.md")
                .read_only("-odd.md")
                .args_extra(["--map-tokens", "0"])
                .arg("--no-auto-lint")
                .files(["b.py", "-dash.py"]),
            with(
                &[
                    "--model",
                    "ollama_chat/qwen2.5-coder:7b",
                    "--weak-model",
                    "ollama_chat/llama3.2:1b",
                    "--message=m",
                ],
                &[
                    "--auto-commits",
                    "--chat-history-file=/logs/t.chat.md",
                    "--input-history-file=/logs/t.input.history",
                    "--read=docs/API.md",
                    "--read=-odd.md",
                    "--map-tokens",
                    "0",
                    "--no-auto-lint",
                    "--",
                    "b.py",
                    "-dash.py",
                ],
            ),
        ),
    ];
    for (name, command, expected) in cases {
        assert_eq!(strings(&command.args()), expected, "{name}");
    }
}

/// Every mode × edit format (none or each) × commit control × message kind
/// × files or not × read-only or not × extras or not: the invariants of the
/// argument vector hold.
#[test]
fn every_combination_keeps_the_invariants() {
    let formats: Vec<Option<EditFormat>> =
        std::iter::once(None).chain(EditFormat::ALL.into_iter().map(Some)).collect();
    let mut checked = 0;
    for mode in [Mode::Code, Mode::Ask, Mode::Architect] {
        for &format in &formats {
            for commits in [Commits::Aider, Commits::Session, Commits::Off] {
                for message_file in [false, true] {
                    for with_files in [false, true] {
                        for with_read in [false, true] {
                            for with_extra in [false, true] {
                                let mut command = base().mode(mode).commits(commits);
                                if let Some(format) = format {
                                    command = command.edit_format(format);
                                }
                                command = if message_file {
                                    command.message_file("m.md")
                                } else {
                                    command.message("a message")
                                };
                                if with_files {
                                    command = command.files(["x.py", "y z.py"]);
                                }
                                if with_read {
                                    command = command.read_only("r.md");
                                }
                                if with_extra {
                                    command = command.arg("--map-tokens").arg("0");
                                }
                                check(
                                    &strings(&command.args()),
                                    mode,
                                    format,
                                    commits,
                                    message_file,
                                    with_files,
                                    with_read,
                                    with_extra,
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 10 * 3 * 2 * 2 * 2 * 2);
}

#[expect(
    clippy::too_many_arguments,
    clippy::fn_params_excessive_bools,
    reason = "one parameter per axis of the table"
)]
fn check(
    args: &[String],
    mode: Mode,
    format: Option<EditFormat>,
    commits: Commits,
    message_file: bool,
    with_files: bool,
    with_read: bool,
    with_extra: bool,
) {
    let count = |flag: &str| args.iter().filter(|a| *a == flag).count();
    let value_of = |flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].as_str());
    assert_eq!(args[..2], ["--model", "ollama_chat/qwen2.5-coder:7b"]);
    // Exactly the mode's flags.
    assert_eq!(count("--architect"), usize::from(mode == Mode::Architect));
    assert_eq!(value_of("--chat-mode"), (mode == Mode::Ask).then_some("ask"));
    let expected_format = format.map(EditFormat::as_str);
    assert_eq!(value_of("--edit-format"), if mode == Mode::Code { expected_format } else { None });
    assert_eq!(
        value_of("--editor-edit-format"),
        if mode == Mode::Architect { expected_format } else { None }
    );
    assert_eq!(value_of("--editor-model").is_some(), mode == Mode::Architect);
    // The message, once, in its joined form.
    let messages: Vec<_> = args.iter().filter(|a| a.starts_with("--message")).collect();
    assert_eq!(
        messages,
        [if message_file { "--message-file=m.md" } else { "--message=a message" }]
    );
    // Every headless flag exactly once; exactly one commit flag.
    for flag in HEADLESS_FLAGS {
        assert_eq!(count(flag), 1, "{flag}");
    }
    assert_eq!(count("--auto-commits"), usize::from(commits == Commits::Aider));
    assert_eq!(count("--no-auto-commits"), usize::from(commits != Commits::Aider));
    assert_eq!(count("--read=r.md"), usize::from(with_read));
    // Extras come after every built-in flag, files last after `--`.
    let last_builtin = args
        .iter()
        .rposition(|a| HEADLESS_FLAGS.contains(&a.as_str()) || a.ends_with("auto-commits"))
        .expect("built-in flags are present");
    if with_extra {
        let extra =
            args.iter().position(|a| a == "--map-tokens").expect("the extra flag is present");
        assert!(extra > last_builtin);
    }
    match args.iter().position(|a| a == "--") {
        Some(sep) => {
            assert!(with_files);
            assert_eq!(args[sep + 1..], ["x.py", "y z.py"]);
        }
        None => assert!(!with_files),
    }
}

/// Spaces, quotes, shell metacharacters, newlines, leading dashes and
/// non-ASCII stay one argument each, byte for byte.
#[test]
fn awkward_values_stay_one_argument() {
    let awkward = [
        "fix the \"parser\" and don't break 'quotes'",
        "-- starts with dashes",
        "-m looks like a flag",
        "$(rm -rf /) `backticks` ; && || > < | * ? ~ #",
        "line one\nline two\ttabbed",
        "ünïcödé ✓",
        "",
    ];
    for text in awkward {
        let command = base()
            .message(text)
            .file(format!("dir with space/{}.py", text.len()))
            .read_only("a b/c'd.md");
        let args = strings(&command.args());
        assert!(args.contains(&format!("--message={text}")), "{text:?}: {args:?}");
        assert!(args.contains(&"--read=a b/c'd.md".to_owned()));
        assert_eq!(args.last().unwrap(), &format!("dir with space/{}.py", text.len()));
        // The tokio command carries exactly these arguments, unsplit.
        let std_command = command.command();
        let passed: Vec<OsString> =
            std_command.as_std().get_args().map(ToOwned::to_owned).collect();
        assert_eq!(passed, command.args());
    }
}

#[test]
fn environment_holds_the_endpoint_and_the_key() {
    let command = base();
    assert!(command.envs().is_empty());
    let command =
        base().api_base("http://10.0.0.5:11434".parse().unwrap()).api_key(ApiKey::new("s3cr3t"));
    assert_eq!(
        command.envs(),
        [
            ("OLLAMA_API_BASE", OsString::from("http://10.0.0.5:11434")),
            ("OLLAMA_API_KEY", OsString::from("s3cr3t"))
        ]
    );
    let std_command = command.command();
    let envs: Vec<_> = std_command
        .as_std()
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
        .collect();
    assert!(envs.contains(&("OLLAMA_API_BASE".into(), Some("http://10.0.0.5:11434".into()))));
    assert_eq!(std_command.as_std().get_program(), "/opt/aider/bin/aider");
    assert!(!format!("{command:?}").contains("s3cr3t"), "the key must not show in Debug");
}

#[test]
fn non_utf8_paths_pass_through() {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let odd = PathBuf::from(OsString::from_vec(vec![b'f', 0xff, b'.', b'p', b'y']));
        let args = base().read_only(&odd).file(&odd).args();
        assert_eq!(args.last().unwrap(), odd.as_os_str());
        let mut read = OsString::from("--read=");
        read.push(odd.as_os_str());
        assert!(args.contains(&read));
    }
}
