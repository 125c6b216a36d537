//! Every problem is reported at once, each naming its key and its source.

use om_config::{Loader, Overrides, ProblemKind, Source};

use crate::support::{clean_jail, load_err, problem_at};

fn file(name: &str) -> Source {
    Source::File(name.into())
}

fn env(name: &str) -> Source {
    Source::Env(name.into())
}

#[test]
fn every_problem_names_its_key_and_source() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [[endpoints]]
            url = "http://a:1"
            weight = 0

            [[endpoints]]
            url = "http://b:2"
            name = "a:1"

            [retry]
            initial_backoff = "10s"
            max_backoff = "1s"

            [timeouts]
            idle = "30x"
            "#,
        )?;
        jail.set_env("OLLAMA_META_RETRY__MAX_ATTEMPTS", 0);
        jail.set_env("OLLAMA_META_TIMEOUTS__CONECT", "1s");
        let flags =
            Overrides { endpoints: vec![], settings: vec![("timeouts.total".into(), "0".into())] };
        let error = load_err(&Loader::new().file("om.toml").overrides(flags))?;

        let expect = [
            ("endpoints[0].weight", file("om.toml"), ProblemKind::Constraint),
            ("endpoints[1].name", file("om.toml"), ProblemKind::Constraint),
            ("retry.initial_backoff", file("om.toml"), ProblemKind::Constraint),
            ("retry.max_attempts", env("OLLAMA_META_RETRY__MAX_ATTEMPTS"), ProblemKind::Constraint),
            ("timeouts.conect", env("OLLAMA_META_TIMEOUTS__CONECT"), ProblemKind::UnknownKey),
            ("timeouts.idle", file("om.toml"), ProblemKind::InvalidValue),
            ("timeouts.total", Source::CommandLine, ProblemKind::Constraint),
        ];
        let got: Vec<(String, Source, ProblemKind)> = error
            .problems()
            .iter()
            .map(|p| (p.path.to_string(), p.source.clone(), p.kind))
            .collect();
        let want: Vec<(String, Source, ProblemKind)> =
            expect.into_iter().map(|(p, s, k)| (p.to_owned(), s, k)).collect();
        assert_eq!(got, want, "{error}");

        // The display lists them one per line, each with source and key.
        let text = error.to_string();
        assert_eq!(text.lines().count(), 1 + error.problems().len(), "{text}");
        assert!(
            text.contains(
                "environment variable OLLAMA_META_RETRY__MAX_ATTEMPTS: retry.max_attempts: must be at least 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("om.toml: endpoints[0].weight: must be a number greater than 0"),
            "{text}"
        );
        Ok(())
    });
}

#[test]
fn unknown_keys_suggest_a_close_one() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [retyr]
            max_attempts = 2

            [[endpoints]]
            url = "http://a:1"
            wieght = 2

            [timeouts]
            frobnicate = 1
            "#,
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        assert!(error.has_unknown_key());

        let section = problem_at(&error, "retyr")?;
        assert_eq!(section.message, "unknown key `retyr`; did you mean `retry`?");
        assert_eq!(section.source, file("om.toml"));

        let field = problem_at(&error, "endpoints[0].wieght")?;
        assert_eq!(field.message, "unknown key `wieght`; did you mean `weight`?");

        let far = problem_at(&error, "timeouts.frobnicate")?;
        assert_eq!(
            far.message,
            "unknown key `frobnicate`; expected one of `connect`, `first_byte`, `idle`, `total`"
        );
        Ok(())
    });
}

#[test]
fn bad_duration_says_what_is_wrong() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_META_TIMEOUTS__CONNECT", "30x");
        let error = load_err(&Loader::new())?;
        let problem = problem_at(&error, "timeouts.connect")?;
        assert_eq!(problem.source, env("OLLAMA_META_TIMEOUTS__CONNECT"));
        assert_eq!(
            problem.message,
            "invalid duration \"30x\": unknown unit \"x\" (write e.g. 30s, 500ms, 1h30m, or a number of seconds)"
        );
        Ok(())
    });
}

#[test]
fn bad_keep_alive_is_reported_under_its_model() {
    clean_jail(|jail| {
        jail.create_file("om.yaml", "models:\n  llama3.2:\n    keep_alive: 5d\n")?;
        let error = load_err(&Loader::new().file("om.yaml"))?;
        let problem = problem_at(&error, "models.\"llama3.2\".keep_alive")?;
        assert!(problem.message.contains("unknown unit \"d\""), "{problem}");
        assert_eq!(problem.source, file("om.yaml"));
        Ok(())
    });
}

#[test]
fn bad_url_and_missing_url() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [[endpoints]]
            url = "ftp://a"
            [[endpoints]]
            name = "no-url"
            [[endpoints]]
            url = "http://ok:1"
            weight = -1
            "#,
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let bad = problem_at(&error, "endpoints[0].url")?;
        assert!(bad.message.contains("invalid endpoint address \"ftp://a\""), "{bad}");
        assert_eq!(bad.kind, ProblemKind::InvalidValue);
        let missing = problem_at(&error, "endpoints[1].url")?;
        assert_eq!(missing.message, "missing required key");
        assert_eq!(missing.kind, ProblemKind::MissingKey);
        assert_eq!(missing.source, file("om.toml"));
        // The two broken entries drop out, yet the third is still reported
        // at the index the file gave it.
        let weight = problem_at(&error, "endpoints[2].weight")?;
        assert_eq!(weight.kind, ProblemKind::Constraint);
        assert_eq!(error.problems().len(), 3, "{error}");
        Ok(())
    });
}

#[test]
fn bad_url_from_the_command_line() {
    clean_jail(|_| {
        let flags = Overrides { endpoints: vec!["http://a b:1".into()], settings: vec![] };
        let error = load_err(&Loader::new().overrides(flags))?;
        let problem = problem_at(&error, "endpoints[0].url")?;
        assert_eq!(problem.source, Source::CommandLine);
        // The entry is gone, but "no endpoints" would only repeat this.
        assert_eq!(error.problems().len(), 1, "{error}");
        Ok(())
    });
}

#[test]
fn duplicate_endpoint_names_including_derived_ones() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [[endpoints]]
            url = "http://gpu:11434"
            [[endpoints]]
            url = "http://gpu:11434/other"
            [[endpoints]]
            url = "http://x:1"
            name = "alpha"
            [[endpoints]]
            url = "http://y:1"
            name = "alpha"
            "#,
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let derived = problem_at(&error, "endpoints[1].name")?;
        assert!(derived.message.contains("duplicate endpoint name \"gpu:11434\""), "{derived}");
        assert!(derived.message.contains("endpoints[0]"), "{derived}");
        // A derived name has no value of its own: the entry's source is used.
        assert_eq!(derived.source, file("om.toml"));
        let explicit = problem_at(&error, "endpoints[3].name")?;
        assert!(explicit.message.contains("\"alpha\""), "{explicit}");
        assert_eq!(error.problems().len(), 2, "{error}");
        Ok(())
    });
}

#[test]
fn duplicate_model_names_after_normalisation() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            "[models.llama3]\nkeep_alive = 1\n[models.\"Llama3:latest\"]\nkeep_alive = 2\n",
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let problem = problem_at(&error, "models.llama3")?;
        assert!(
            problem.message.contains("the same model as models.\"Llama3:latest\""),
            "{problem}"
        );
        Ok(())
    });
}

#[test]
fn wrong_types_and_bad_model_names() {
    clean_jail(|jail| {
        jail.create_file(
            "om.json",
            r#"{"retry": {"jitter": "often", "max_attempts": -2}, "models": {"a/b/c/d": {}}}"#,
        )?;
        let error = load_err(&Loader::new().file("om.json"))?;
        let jitter = problem_at(&error, "retry.jitter")?;
        assert!(jitter.message.starts_with("invalid type"), "{jitter}");
        assert_eq!(jitter.source, file("om.json"));
        problem_at(&error, "retry.max_attempts")?;
        let name = problem_at(&error, "models.\"a/b/c/d\"")?;
        assert!(name.message.contains("invalid model name"), "{name}");
        Ok(())
    });
}

#[test]
fn a_section_of_the_wrong_shape() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_META_RETRY", 5);
        let error = load_err(&Loader::new())?;
        let problem = problem_at(&error, "retry")?;
        assert_eq!(problem.source, env("OLLAMA_META_RETRY"));
        assert_eq!(problem.kind, ProblemKind::InvalidValue);
        Ok(())
    });
}

#[test]
fn a_bad_set_key_is_reported() {
    clean_jail(|_| {
        let flags =
            Overrides { endpoints: vec![], settings: vec![("retry..x".into(), "1".into())] };
        let error = load_err(&Loader::new().overrides(flags))?;
        let [problem] = error.problems() else { panic!("{error}") };
        assert_eq!(problem.source, Source::CommandLine);
        assert!(problem.message.contains("retry..x"), "{problem}");
        Ok(())
    });
}

#[test]
fn declared_capabilities_load_as_a_list_or_by_model_and_bad_names_are_named() {
    use om_core::{Capabilities, Capability};
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [[endpoints]]
            url = "http://llama-box:8080/v1"
            kind = "openai"
            capabilities = ["completion", "vision"]

            [[endpoints]]
            url = "http://vllm-box:8000"
            kind = "openai"
            [endpoints.capabilities]
            "qwen2.5-vl" = ["completion", "vision", "tools"]
            "*" = ["completion"]
            "#,
        )?;
        let config = crate::support::load(&Loader::new().file("om.toml"))?.config;
        let vision = Capabilities::of(&[Capability::Completion, Capability::Vision]);
        let first = config.endpoints[0].capabilities.as_ref().unwrap().declared();
        assert_eq!(first.of("anything"), Some(vision));
        let second = config.endpoints[1].capabilities.as_ref().unwrap().declared();
        assert_eq!(second.of("qwen2.5-vl"), Some(vision.with(Capability::Tools)));
        assert_eq!(second.of("other"), Some(Capabilities::of(&[Capability::Completion])));
        Ok(())
    });
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [[endpoints]]
            url = "http://llama-box:8080"
            kind = "openai"
            capabilities = ["completion", "pictures"]
            "#,
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let problem = problem_at(&error, "endpoints[0].capabilities[1]")?;
        assert_eq!(problem.kind, ProblemKind::Constraint);
        assert!(problem.message.contains("unknown capability \"pictures\""), "{error}");
        assert_eq!(problem.source, file("om.toml"), "{error}");
        Ok(())
    });
}
