//! `config show`: every effective leaf with its source, and the config in
//! TOML and JSON.

use om_config::{Config, Loader, Source};

use crate::support::{clean_jail, load};

#[test]
fn every_leaf_has_a_source() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_HOST", "gpu-box");
        jail.set_env("OLLAMA_META_TIMEOUTS__IDLE", 90);
        jail.create_file(
            "om.toml",
            "[models.\"llama3.2\"]\noptions = { num_ctx = 8192 }\n[retry]\njitter = false\n",
        )?;
        let loaded = load(&Loader::new().file("om.toml"))?;
        let provenance = &loaded.provenance;
        let get =
            |key: &str| provenance.find(key).ok_or_else(|| format!("no {key} in\n{provenance}"));

        assert_eq!(get("endpoints[0].url")?.value, "http://gpu-box:11434");
        assert_eq!(get("endpoints[0].url")?.source, Source::Env("OLLAMA_HOST".into()));
        assert_eq!(get("endpoints[0].name")?.source, Source::Default);
        assert_eq!(get("endpoints[0].max_concurrency")?.value, serde_json::Value::Null);
        assert_eq!(get("models.\"llama3.2\".options.num_ctx")?.value, 8192);
        assert_eq!(
            get("models.\"llama3.2\".options.num_ctx")?.source,
            Source::File("om.toml".into())
        );
        assert_eq!(get("retry.jitter")?.source, Source::File("om.toml".into()));
        assert_eq!(get("retry.max_attempts")?.source, Source::Default);
        assert_eq!(get("timeouts.idle")?.value, "1m30s");
        assert_eq!(get("timeouts.idle")?.source, Source::Env("OLLAMA_META_TIMEOUTS__IDLE".into()));
        assert_eq!(get("timeouts.total")?.value, serde_json::Value::Null);

        let paths: Vec<String> = provenance.iter().map(|s| s.path.to_string()).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths.len(), sorted.len());

        let text = provenance.to_string();
        assert!(
            text.lines().any(|l| l.starts_with("retry.jitter = false") && l.ends_with("# om.toml")),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("timeouts.idle = \"1m30s\"")
                && l.ends_with("# environment variable OLLAMA_META_TIMEOUTS__IDLE")),
            "{text}"
        );

        let json: serde_json::Value =
            serde_json::to_value(provenance).map_err(|e| e.to_string())?;
        assert!(json.as_array().is_some_and(|a| a.iter().any(|s| s["path"] == "retry.jitter"
            && s["source"] == "om.toml"
            && s["value"] == false)));
        Ok(())
    });
}

#[test]
fn shown_toml_loads_back_to_the_same_config() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [[endpoints]]
            url = "http://a:1"
            max_concurrency = 2
            tags = ["x"]
            [models."qwen2.5-coder:7b"]
            keep_alive = "-1m"
            [timeouts]
            total = "10m"
            "#,
        )?;
        let config = load(&Loader::new().file("om.toml"))?.config;
        let shown = config.to_toml_string().map_err(|e| e.to_string())?;
        jail.create_file("shown.toml", &shown)?;
        let again = load(&Loader::new().file("shown.toml"))?.config;
        assert_eq!(again, config, "{shown}");

        let json = config.to_json_string().map_err(|e| e.to_string())?;
        jail.create_file("shown.json", &json)?;
        let from_json = load(&Loader::new().file("shown.json"))?.config;
        assert_eq!(from_json, config, "{json}");
        Ok(())
    });
}

#[test]
fn defaults_show_as_defaults() {
    clean_jail(|_| {
        let loaded = load(&Loader::new())?;
        assert_eq!(loaded.config, Config::default());
        assert!(
            loaded.provenance.iter().all(|s| s.source == Source::Default),
            "{}",
            loaded.provenance
        );
        Ok(())
    });
}
