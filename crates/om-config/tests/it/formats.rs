//! TOML, YAML and JSON files load to the same configuration; other
//! extensions and unreadable files are reported with the file's name.

use om_config::{Config, Loader, ProblemKind, Source};

use crate::support::{clean_jail, load, load_err};

const TOML: &str = r#"
[[endpoints]]
url = "http://gpu-box:11434"
name = "gpu"
weight = 2.5
max_concurrency = 4
tags = ["gpu", "big"]

[[endpoints]]
url = "laptop"

[models."qwen2.5-coder:7b"]
options = { num_ctx = 16384, temperature = 0.2 }
keep_alive = "30m"

[retry]
max_attempts = 5
jitter = false

[timeouts]
first_byte = "3m"
total = 600
"#;

const YAML: &str = r#"
endpoints:
  - url: http://gpu-box:11434
    name: gpu
    weight: 2.5
    max_concurrency: 4
    tags: [gpu, big]
  - url: laptop
models:
  "qwen2.5-coder:7b":
    options:
      num_ctx: 16384
      temperature: 0.2
    keep_alive: 30m
retry:
  max_attempts: 5
  jitter: false
timeouts:
  first_byte: 3m
  total: 600
"#;

const JSON: &str = r#"{
  "endpoints": [
    {"url": "http://gpu-box:11434", "name": "gpu", "weight": 2.5, "max_concurrency": 4,
     "tags": ["gpu", "big"]},
    {"url": "laptop"}
  ],
  "models": {
    "qwen2.5-coder:7b": {"options": {"num_ctx": 16384, "temperature": 0.2}, "keep_alive": "30m"}
  },
  "retry": {"max_attempts": 5, "jitter": false},
  "timeouts": {"first_byte": "3m", "total": 600}
}"#;

fn load_file(name: &str, text: &str) -> Config {
    let mut out = None;
    clean_jail(|jail| {
        jail.create_file(name, text)?;
        out = Some(load(&Loader::new().file(name))?.config);
        Ok(())
    });
    out.expect("the jail ran")
}

#[test]
fn all_three_formats_load_the_same_config() {
    let toml = load_file("om.toml", TOML);
    assert_eq!(load_file("om.yaml", YAML), toml);
    assert_eq!(load_file("om.yml", YAML), toml);
    assert_eq!(load_file("om.json", JSON), toml);

    assert_eq!(toml.endpoints.len(), 2);
    let gpu = &toml.endpoints[0];
    assert_eq!(gpu.name.as_str(), "gpu");
    assert!((gpu.weight - 2.5).abs() < f64::EPSILON);
    assert_eq!(gpu.max_concurrency.map(std::num::NonZeroUsize::get), Some(4));
    assert_eq!(gpu.tags, ["gpu", "big"]);
    assert_eq!(toml.endpoints[1].name.as_str(), "laptop:11434");
    let model = &toml.models[&"qwen2.5-coder:7b".parse().unwrap()];
    assert_eq!(model.options.num_ctx(), Some(16384));
    assert_eq!(toml.retry.max_attempts, 5);
    assert_eq!(toml.timeouts.first_byte.as_secs(), 180);
    assert_eq!(toml.timeouts.total.map(|t| t.as_secs()), Some(600));
}

#[test]
fn an_empty_file_sets_nothing() {
    for name in ["empty.toml", "empty.yaml", "empty.json"] {
        assert_eq!(load_file(name, "\n"), Config::default(), "{name}");
    }
}

#[test]
fn unknown_extension_names_the_file() {
    clean_jail(|jail| {
        jail.create_file("om.ini", "[retry]\n")?;
        let error = load_err(&Loader::new().file("om.ini"))?;
        assert!(error.is_file());
        let [problem] = error.problems() else { panic!("{error}") };
        assert_eq!(problem.source, Source::File("om.ini".into()));
        assert_eq!(problem.kind, ProblemKind::File);
        assert!(problem.message.contains(".toml, .yaml, .yml or .json"), "{problem}");
        assert!(error.to_string().contains("om.ini"), "{error}");
        Ok(())
    });
}

#[test]
fn a_missing_file_is_an_error() {
    clean_jail(|_| {
        let error = load_err(&Loader::new().file("nowhere.toml"))?;
        let [problem] = error.problems() else { panic!("{error}") };
        assert_eq!(problem.source, Source::File("nowhere.toml".into()));
        assert!(problem.message.starts_with("cannot read the configuration file"), "{problem}");
        Ok(())
    });
}

#[test]
fn a_missing_file_does_not_hide_other_problems() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_META_RETRY__MAX_ATTEMPTS", 0);
        let error = load_err(&Loader::new().file("nowhere.toml"))?;
        assert_eq!(error.problems().len(), 2, "{error}");
        Ok(())
    });
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    for (name, text) in [
        ("bad.toml", "[retry]\nmax_attempts = \n"),
        ("bad.yaml", "retry:\n  max_attempts: [1\n"),
        ("bad.json", "{\n\"retry\": {\"max_attempts\": }}"),
    ] {
        clean_jail(|jail| {
            jail.create_file(name, text)?;
            let error = load_err(&Loader::new().file(name))?;
            assert!(error.is_file(), "{error}");
            let [problem] = error.problems() else { panic!("{error}") };
            assert_eq!(problem.source, Source::File(name.into()));
            assert!(problem.message.contains("line 2"), "{name}: {problem}");
            assert!(!problem.to_string().contains('\n'), "one line: {problem}");
            Ok(())
        });
    }
}
