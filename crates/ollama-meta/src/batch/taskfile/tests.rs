//! Task-file parsing: every shape, every error with its location, and
//! round trips of generated task lists through YAML, JSON and JSONL.

use std::fmt::Write as _;
use std::time::Duration;

use om_core::wire::{Format, Message, Options, Role};
use om_core::{Capabilities, Capability, ModelChoice, Priority, Prompt, Task, TaskCategory};
use proptest::prelude::*;

use super::spec::TaskSpec;
use super::*;

fn problems(text: &str, format: FileFormat) -> Vec<Problem> {
    parse(text, format).expect_err("the file is invalid")
}

fn rendered(text: &str, format: FileFormat) -> Vec<String> {
    let path = Path::new("t");
    problems(text, format).iter().map(|p| p.display_in(path).to_string()).collect()
}

#[test]
fn yaml_wrapped_and_bare_lists() {
    let wrapped = "tasks:\n  - id: a\n    prompt: write a parser\n    priority: high\n  - prompt: add a test\n";
    let tasks = parse(wrapped, FileFormat::Yaml).unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].id.as_str(), "a");
    assert_eq!(tasks[0].priority, Priority::High);
    assert_eq!(tasks[1].id.as_str(), "task-2", "generated ids are positional");
    let bare = "- prompt: one\n- prompt: two\n";
    let tasks = parse(bare, FileFormat::Yaml).unwrap();
    assert_eq!(tasks[1].prompt, Prompt::Text("two".to_owned()));
}

#[test]
fn every_field() {
    let text = "
tasks:
  - id: 7
    system: be brief
    messages:
      - role: user
        content: hi
    category: code-review
    priority: LOW
    models: [qwen2.5-coder, llama3.2]
    requires: [tools]
    options: {num_predict: 64, temperature: 0.2}
    timeout: 1m30s
    format: json
  - prompt: p
    model: qwen2.5-coder:7b
    timeout: 5
";
    let tasks = parse(text, FileFormat::Yaml).unwrap();
    let first = &tasks[0];
    assert_eq!(first.id.as_str(), "7");
    assert_eq!(first.system.as_deref(), Some("be brief"));
    assert_eq!(first.prompt, Prompt::Messages(vec![Message::new(Role::User, "hi")]));
    assert_eq!(first.category, Some(TaskCategory::CodeReview));
    assert_eq!(first.priority, Priority::Low);
    assert_eq!(
        first.model,
        ModelChoice::AllowList(vec!["qwen2.5-coder".to_owned(), "llama3.2".to_owned()])
    );
    assert_eq!(first.requires, Capabilities::of(&[Capability::Tools]));
    assert_eq!(first.options.as_ref().unwrap().0["num_predict"], 64);
    assert_eq!(first.timeout, Some(Duration::from_secs(90)));
    assert_eq!(first.format, Some(Format::json()));
    assert_eq!(tasks[1].model, ModelChoice::Pinned("qwen2.5-coder:7b".parse().unwrap()));
    assert_eq!(tasks[1].timeout, Some(Duration::from_secs(5)));
}

#[test]
fn yaml_problems_carry_lines_columns_and_ids() {
    let text = "\
tasks:
  - id: a
    promt: typo
  - id: b
    prompt: x
    priority: urgent
  - id: a
    prompt: y
  - id: c
  - id: d
    prompt: x
    messages: [{role: user, content: y}]
  - id: e
    prompt: x
    timeout: 10 parsecs
  - prompt: x
    requires: [telepathy]
";
    let got = rendered(text, FileFormat::Yaml);
    assert_eq!(got.len(), 7, "{got:#?}");
    assert!(got[0].starts_with("t:3:5: task \"a\" (#1): unknown field `promt`"), "{}", got[0]);
    assert_eq!(
        got[1],
        "t:6:15: task \"b\" (#2): unknown priority \"urgent\"; expected one of: high, normal, low"
    );
    assert_eq!(got[2], "t:7:5: task \"a\" (#3): duplicate id \"a\": task #1 at line 2 has it too");
    assert_eq!(got[3], "t:9:3: task \"c\" (#4): missing `prompt` (or `messages`)");
    assert_eq!(
        got[4],
        "t:12:5: task \"d\" (#5): `prompt` and `messages` are exclusive; give one of them"
    );
    assert!(
        got[5].starts_with("t:15:14: task \"e\" (#6): timeout \"10 parsecs\" is not"),
        "{}",
        got[5]
    );
    assert!(got[6].starts_with("t:17:15: task #7: unknown capability \"telepathy\""), "{}", got[6]);
}

#[test]
fn yaml_syntax_and_shape_errors() {
    let got = rendered("tasks:\n  - prompt: [unclosed\n", FileFormat::Yaml);
    assert_eq!(got.len(), 1);
    assert_eq!(got, ["t:2:13: unclosed bracket '['"]);
    let got = rendered("tasks: []\ntaks: []\n", FileFormat::Yaml);
    assert_eq!(got, ["t:2:1: unknown top-level key `taks`; expected `tasks`"]);
    assert_eq!(rendered("tasks:\n", FileFormat::Yaml), ["t: the file has no tasks"]);
    assert_eq!(
        rendered("just text", FileFormat::Yaml),
        ["t:1:1: expected a list of tasks, or a mapping with a `tasks` list"]
    );
}

#[test]
fn flow_style_yaml_is_located_too() {
    let got = rendered("[{prompt: a}, {prompt: b, priority: soon}]", FileFormat::Yaml);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("t:1:37: task #2: unknown priority \"soon\""), "{got:?}");
}

#[test]
fn json_problems_carry_lines_and_columns() {
    let text = r#"{"tasks": [
  {"id": "a", "prompt": "x"},
  {"id": "b", "prompt": "x",
   "priority": "urgent"},
  {"id": "a", "prompt": "y", "colour": 1},
  {"id": "c", "timeout": "-5s", "prompt": "x"}
]}"#;
    let got = rendered(text, FileFormat::Json);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got[0].starts_with("t:4:23: task \"b\" (#2): unknown priority"), "{}", got[0]);
    assert_eq!(got[1], "t:5:4: task \"a\" (#3): duplicate id \"a\": task #1 at line 2 has it too");
    assert!(got[2].starts_with("t:5:37: task \"a\" (#3): unknown field `colour`"), "{}", got[2]);
    assert!(
        got[3].starts_with("t:6:30: task \"c\" (#4): timeout \"-5s\" is negative"),
        "{}",
        got[3]
    );
}

#[test]
fn json_syntax_errors_and_bare_arrays() {
    let got = rendered("[\n  {\"prompt\": \"x\",}\n]", FileFormat::Json);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("t:2:18: trailing comma"), "{got:?}");
    assert_eq!(parse(r#"[{"prompt": "x"}]"#, FileFormat::Json).unwrap().len(), 1);
    assert!(
        rendered(r#"{"tasks": [], "extra": 1}"#, FileFormat::Json)[0]
            .contains("unknown field `extra`")
    );
}

#[test]
fn jsonl_lines_are_the_locations() {
    let text = "{\"id\": \"a\", \"prompt\": \"x\"}\n\n{\"id\": \"b\"}\n{\"prompt\": \"x\", \"priority\": 3}\n";
    let got = rendered(text, FileFormat::Jsonl);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0], "t:3:1: task \"b\" (#2): missing `prompt` (or `messages`)");
    assert!(got[1].starts_with("t:4:29: task #3: invalid type: integer `3`"), "{}", got[1]);
    let ok = parse("{\"prompt\": \"x\"}\n{\"prompt\": \"y\"}", FileFormat::Jsonl).unwrap();
    assert_eq!(ok[1].id.as_str(), "task-2");
}

#[test]
fn generated_ids_clash_with_explicit_ones() {
    let got = rendered("- prompt: a\n- id: task-1\n  prompt: b\n", FileFormat::Yaml);
    assert_eq!(
        got,
        ["t:2:3: task \"task-1\" (#2): duplicate id \"task-1\": task #1 at line 1 has it too"]
    );
}

#[test]
fn pins_and_allow_lists_are_exclusive() {
    let got = rendered("- prompt: a\n  model: llama3.2\n  models: [qwen3]\n", FileFormat::Yaml);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("t:3:3: task #1: `model` (a pin) and `models`"), "{got:?}");
    let got = rendered("- prompt: a\n  format: xml\n", FileFormat::Yaml);
    assert_eq!(got, ["t:2:3: task #1: `format` must be \"json\" or a JSON schema object"]);
    let got = rendered("- prompt: a\n  timeout: 0s\n", FileFormat::Yaml);
    assert_eq!(got, ["t:2:12: task #1: timeout must be more than zero"]);
}

#[test]
fn extensions_pick_the_format() {
    assert_eq!(FileFormat::from_path(Path::new("a/b.YML")), Some(FileFormat::Yaml));
    assert_eq!(FileFormat::from_path(Path::new("b.json")), Some(FileFormat::Json));
    assert_eq!(FileFormat::from_path(Path::new("b.jsonl")), Some(FileFormat::Jsonl));
    assert_eq!(FileFormat::from_path(Path::new("b.txt")), None);
}

// === round trips ===

/// The file form of a task, as a user would write it.
fn spec_of(task: &Task) -> TaskSpec {
    let (prompt, messages) = match &task.prompt {
        Prompt::Text(text) => (Some(text.clone()), None),
        Prompt::Messages(messages) => (None, Some(messages.clone())),
    };
    let (model, models) = match &task.model {
        ModelChoice::Any => (None, None),
        ModelChoice::Pinned(name) => (Some(name.clone()), None),
        ModelChoice::AllowList(names) => (None, Some(names.clone())),
    };
    TaskSpec {
        id: Some(task.id.as_str().to_owned()),
        prompt,
        messages,
        system: task.system.clone(),
        category: task.category,
        priority: Some(task.priority),
        model,
        models,
        requires: (!task.requires.is_empty()).then_some(task.requires),
        options: task.options.clone(),
        timeout: task.timeout,
        format: task.format.clone(),
        files: None,
        read: None,
    }
}

fn text() -> impl Strategy<Value = String> {
    // Quotes, colons, dashes, newlines and non-ASCII: what breaks naive YAML.
    "[a-zA-Z0-9 :#\"'\\-\n\u{e9}\u{4e2d}]{0,40}".prop_map(|s| format!("x{s}"))
}

fn task(index: usize) -> impl Strategy<Value = Task> {
    let prompt = prop_oneof![
        text().prop_map(Prompt::Text),
        prop::collection::vec(
            (prop::sample::select(vec![Role::System, Role::User, Role::Assistant]), text()),
            1..3
        )
        .prop_map(|m| Prompt::Messages(m.into_iter().map(|(r, c)| Message::new(r, c)).collect())),
    ];
    let model = prop_oneof![
        Just(ModelChoice::Any),
        prop::sample::select(vec!["llama3.2", "qwen2.5-coder:7b", "qwen3:8b"])
            .prop_map(|m| ModelChoice::Pinned(m.parse().expect("a valid name"))),
        prop::collection::vec("[a-z][a-z0-9.]{0,8}", 1..3).prop_map(ModelChoice::AllowList),
    ];
    let options = prop::option::of((0_u32..4096, prop::bool::ANY).prop_map(|(n, seed)| {
        let mut map = serde_json::Map::new();
        map.insert("num_predict".to_owned(), n.into());
        if seed {
            map.insert("temperature".to_owned(), 0.5.into());
        }
        Options(map)
    }));
    (
        (
            prompt,
            prop::option::of(text()),
            prop::option::of(prop::sample::select(TaskCategory::ALL.to_vec())),
        ),
        (prop::sample::select(Priority::ALL.to_vec()), model),
        (prop::sample::subsequence(Capability::ALL.to_vec(), 0..3), options),
        (prop::option::of(1_u64..100_000), prop::option::of(Just(Format::json()))),
    )
        .prop_map(
            move |(
                (prompt, system, category),
                (priority, model),
                (caps, options),
                (timeout, format),
            )| Task {
                id: format!("t{index}").into(),
                prompt,
                system,
                category,
                priority,
                model,
                requires: Capabilities::of(&caps),
                options,
                timeout: timeout.map(Duration::from_millis),
                format,
            },
        )
}

fn tasks() -> impl Strategy<Value = Vec<Task>> {
    (1_usize..6).prop_flat_map(|n| (0..n).map(task).collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn yaml_round_trips(tasks in tasks(), wrapped in prop::bool::ANY) {
        let specs: Vec<TaskSpec> = tasks.iter().map(spec_of).collect();
        let text = if wrapped {
            serde_saphyr::to_string(&serde_json::json!({ "tasks": specs }))
        } else {
            serde_saphyr::to_string(&specs)
        }.unwrap();
        prop_assert_eq!(parse(&text, FileFormat::Yaml).unwrap(), tasks);
    }

    #[test]
    fn jsonl_and_json_round_trip(tasks in tasks()) {
        let specs: Vec<TaskSpec> = tasks.iter().map(spec_of).collect();
        let lines: Vec<String> = specs.iter().map(|s| serde_json::to_string(s).unwrap()).collect();
        prop_assert_eq!(parse(&lines.join("\n"), FileFormat::Jsonl).unwrap(), tasks.clone());
        let pretty = serde_json::to_string_pretty(&specs).unwrap();
        prop_assert_eq!(parse(&pretty, FileFormat::Json).unwrap(), tasks);
    }

    /// Any text in any of the three formats: tasks or located problems,
    /// never a panic. `cargo xtask fuzz` runs it longer.
    #[test]
    fn fuzz_task_files(
        text in "[a-z0-9:\\- \n\\[\\]{}\",#&*!|>'.]{0,120}",
        keys in prop::collection::vec(prop::sample::select(&["id", "prompt", "messages", "model", "models", "priority", "timeout", "options", "requires", "tasks", "files"][..]), 0..6),
    ) {
        let keyed = keys.iter().fold(String::new(), |mut out, k| {
            let _ = writeln!(out, "- {k}: {text}");
            out
        });
        for candidate in [text.as_str(), keyed.as_str()] {
            for format in [FileFormat::Yaml, FileFormat::Json, FileFormat::Jsonl] {
                if let Err(problems) = parse(candidate, format) {
                    prop_assert!(!problems.is_empty());
                    for problem in &problems {
                        prop_assert!(!problem.display_in(Path::new("t")).to_string().is_empty());
                    }
                }
                let _ = parse_aider(candidate, format);
            }
        }
    }
}
