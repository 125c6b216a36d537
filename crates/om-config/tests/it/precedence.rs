//! Each layer overrides the one below it: defaults < file < environment <
//! command line, key by key.

use figment::providers::Serialized;
use om_config::{Loader, Overrides, Source};
use proptest::prelude::*;
use serde::Serialize;

use crate::support::{clean_jail, load};

const FILE: &str = r#"
[retry]
max_attempts = 4
initial_backoff = "100ms"
max_backoff = "10s"

[timeouts]
connect = "2s"
idle = "90s"
"#;

#[test]
fn file_overrides_defaults() {
    clean_jail(|jail| {
        jail.create_file("om.toml", FILE)?;
        let loaded = load(&Loader::new().file("om.toml"))?;
        let config = &loaded.config;
        assert_eq!(config.retry.max_attempts, 4);
        assert_eq!(config.timeouts.connect.as_secs(), 2);
        // Keys the file does not set keep their defaults.
        assert_eq!(config.timeouts.first_byte.as_secs(), 120);
        assert!(config.retry.jitter);
        Ok(())
    });
}

#[test]
fn env_overrides_file_and_flag_overrides_env() {
    clean_jail(|jail| {
        jail.create_file("om.toml", FILE)?;
        jail.set_env("OLLAMA_META_RETRY__MAX_ATTEMPTS", 6);
        jail.set_env("OLLAMA_META_TIMEOUTS__CONNECT", "3s");
        let flags = Overrides {
            endpoints: vec![],
            settings: vec![("timeouts.connect".into(), "4s".into())],
        };
        let loaded = load(&Loader::new().file("om.toml").overrides(flags))?;
        let config = &loaded.config;
        // The environment beats the file...
        assert_eq!(config.retry.max_attempts, 6);
        // ...and the command line beats the environment.
        assert_eq!(config.timeouts.connect.as_secs(), 4);
        // The file still wins where nothing above it speaks.
        assert_eq!(config.timeouts.idle.as_secs(), 90);
        assert_eq!(config.retry.initial_backoff.as_millis(), 100);

        let source = |key| loaded.provenance.find(key).map(|s| s.source.clone());
        assert_eq!(
            source("retry.max_attempts"),
            Some(Source::Env("OLLAMA_META_RETRY__MAX_ATTEMPTS".into()))
        );
        assert_eq!(source("timeouts.connect"), Some(Source::CommandLine));
        assert_eq!(source("timeouts.idle"), Some(Source::File("om.toml".into())));
        assert_eq!(source("timeouts.first_byte"), Some(Source::Default));
        Ok(())
    });
}

#[test]
fn endpoint_flags_replace_the_configured_list() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [[endpoints]]
            url = "http://a:1"
            [[endpoints]]
            url = "http://b:2"
            "#,
        )?;
        let flags = Overrides { endpoints: vec!["http://c:3".into()], settings: vec![] };
        let loaded = load(&Loader::new().file("om.toml").overrides(flags))?;
        let urls: Vec<String> = loaded.config.endpoints.iter().map(|e| e.url.to_string()).collect();
        assert_eq!(urls, ["http://c:3"]);
        assert_eq!(
            loaded.provenance.find("endpoints[0].url").map(|s| s.source.clone()),
            Some(Source::CommandLine)
        );
        Ok(())
    });
}

#[test]
fn a_serialize_struct_of_flags_is_a_command_line_layer() {
    #[derive(Serialize)]
    struct Flags {
        retry: RetryFlags,
    }
    #[derive(Serialize)]
    struct RetryFlags {
        max_attempts: u32,
    }
    clean_jail(|jail| {
        jail.set_env("OLLAMA_META_RETRY__MAX_ATTEMPTS", 2);
        let flags = Flags { retry: RetryFlags { max_attempts: 9 } };
        let loaded = load(&Loader::new().overrides(Serialized::defaults(flags)))?;
        assert_eq!(loaded.config.retry.max_attempts, 9);
        assert_eq!(
            loaded.provenance.find("retry.max_attempts").map(|s| s.source.clone()),
            Some(Source::CommandLine)
        );
        Ok(())
    });
}

#[test]
fn config_file_can_come_from_the_environment() {
    clean_jail(|jail| {
        jail.create_file("from-env.yaml", "retry:\n  max_attempts: 8\n")?;
        jail.set_env("OLLAMA_META_CONFIG", "from-env.yaml");
        let loaded = load(&Loader::new())?;
        assert_eq!(loaded.config.retry.max_attempts, 8);
        Ok(())
    });
}

#[test]
fn injected_env_replaces_the_process_env() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_META_RETRY__MAX_ATTEMPTS", 2);
        let loaded = load(&Loader::new().env_vars([("OLLAMA_META_RETRY__JITTER", "false")]))?;
        assert_eq!(loaded.config.retry.max_attempts, 3);
        assert!(!loaded.config.retry.jitter);
        Ok(())
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn env_always_wins_over_the_file(file_value in 1u32..1_000_000, env_value in 1u32..1_000_000) {
        let mut seen = None;
        clean_jail(|jail| {
            jail.create_file("om.toml", &format!("[retry]\nmax_attempts = {file_value}\n"))?;
            jail.set_env("OLLAMA_META_RETRY__MAX_ATTEMPTS", env_value);
            let loaded = load(&Loader::new().file("om.toml"))?;
            seen = Some(loaded.config.retry.max_attempts);
            Ok(())
        });
        prop_assert_eq!(seen, Some(env_value));
    }
}

proptest! {
    /// Any configuration file, and any value for any key from the
    /// environment: loaded, or refused with every problem named — never a
    /// panic. `cargo xtask fuzz` runs it longer.
    #[test]
    fn fuzz_config(
        text in "[a-z_\\[\\]=\" .0-9\n]{0,120}",
        key in prop::sample::select(&[
            "RETRY__MAX_ATTEMPTS", "TIMEOUTS__FIRST_BYTE", "GATEWAY__LISTEN", "GATEWAY__AUTH_TOKEN",
            "ROUTING__STRATEGY", "LIMITS__MAX_LINE_BYTES", "DISCOVERY__INTERVAL", "ENDPOINTS",
            "BREAKER__FAILURE_RATIO", "GATEWAY__MAX_QUEUE",
        ][..]),
        value in "[a-z0-9.:\\[\\], ]{0,16}",
    ) {
        clean_jail(|jail| {
            jail.create_file("om.toml", &text)?;
            let loader = Loader::new()
                .file("om.toml")
                .env_vars([(format!("OLLAMA_META_{key}"), value.clone())]);
            if let Err(error) = loader.load() {
                assert!(!error.problems().is_empty(), "an error names its problems");
                assert!(!error.to_string().is_empty());
            }
            Ok(())
        });
    }
}
