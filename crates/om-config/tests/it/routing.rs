//! The `[routing]` and `[breaker]` sections through the loader: file,
//! environment and flags, and every bad value reported with its key.

use std::time::Duration;

use om_config::{Loader, Overrides, ProblemKind, Source};

use crate::support::{clean_jail, load, load_err, problem_at};

#[test]
fn settings_layer_like_any_other_section() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [routing]
            strategy = "performance"
            categories = { testing = "round_robin" }
            cold_penalty = 0
            cold_load_threshold = "1s"
            seed = 7

            [breaker]
            failure_threshold = 3
            open_timeout = "10s"
            "#,
        )?;
        jail.set_env("OLLAMA_META_BREAKER__HALF_OPEN_PROBES", 1);
        let flags = Overrides {
            endpoints: vec![],
            settings: vec![("routing.max_fallbacks".into(), "5".into())],
        };
        let loaded = load(&Loader::new().file("om.toml").overrides(flags))?;
        let (routing, breaker) = (&loaded.config.routing, &loaded.config.breaker);
        assert_eq!(routing.strategy, "performance");
        assert!(routing.cold_penalty.abs() < f64::EPSILON);
        assert_eq!(routing.cold_load_threshold, Duration::from_secs(1));
        assert_eq!(routing.seed, Some(7));
        assert_eq!(routing.max_fallbacks, 5);
        assert!((routing.ewma_alpha - 0.25).abs() < f64::EPSILON, "default kept");
        assert_eq!(breaker.failure_threshold, 3);
        assert_eq!(breaker.open_timeout, Duration::from_secs(10));
        assert_eq!(breaker.half_open_probes, 1);
        assert_eq!(breaker.close_after, 3, "default kept");
        let origin = |key| loaded.provenance.find(key).map(|s| s.source.clone());
        assert_eq!(
            origin("breaker.half_open_probes"),
            Some(Source::Env("OLLAMA_META_BREAKER__HALF_OPEN_PROBES".into()))
        );
        assert_eq!(origin("routing.max_fallbacks"), Some(Source::CommandLine));
        Ok(())
    });
}

#[test]
fn bad_values_are_reported_with_their_keys() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [routing]
            strategy = "fastest"
            ewma_alpha = 0
            cooldown = "2m"
            cold_penalty = "high"

            [breaker]
            failure_ratio = 2.0
            ratio_min_requests = 50
            max_open_timeout = "10s"
            half_open_probe = 3
            "#,
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let kind = |path| problem_at(&error, path).map(|p| p.kind);
        assert_eq!(kind("routing.cold_penalty")?, ProblemKind::InvalidValue);
        assert_eq!(kind("breaker.half_open_probe")?, ProblemKind::UnknownKey);
        for path in [
            "routing.strategy",
            "routing.ewma_alpha",
            "routing.cooldown",
            "breaker.failure_ratio",
            "breaker.ratio_min_requests",
            "breaker.open_timeout",
        ] {
            assert_eq!(kind(path)?, ProblemKind::Constraint, "{path}");
        }
        let unknown = problem_at(&error, "breaker.half_open_probe")?;
        assert!(unknown.to_string().contains("did you mean `half_open_probes`"), "{unknown}");
        Ok(())
    });
}

#[test]
fn defaults_show_in_toml_and_round_trip() {
    let config = om_config::Config::default();
    let text = config.to_toml_string().unwrap();
    assert!(text.contains("[breaker]\nfailure_threshold = 5"), "{text}");
    assert!(text.contains("cold_load_threshold = \"500ms\""), "{text}");
    assert!(!text.contains("seed"), "unset seeds are left out: {text}");
    let back: om_config::Config = toml::from_str(&text).unwrap();
    assert_eq!(back, config);
}
