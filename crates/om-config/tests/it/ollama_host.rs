//! `OLLAMA_HOST` is the default endpoint, and only the default.

use om_config::{Loader, Overrides, Source};

use crate::support::{clean_jail, load, load_err, problem_at};

#[test]
fn without_anything_the_endpoint_is_local() {
    clean_jail(|_| {
        let loaded = load(&Loader::new())?;
        let [endpoint] = loaded.config.endpoints.as_slice() else { panic!() };
        assert_eq!(endpoint.url.to_string(), "http://127.0.0.1:11434");
        assert_eq!(endpoint.name.as_str(), "127.0.0.1:11434");
        assert_eq!(
            loaded.provenance.find("endpoints[0].url").map(|s| s.source.clone()),
            Some(Source::Default)
        );
        Ok(())
    });
}

#[test]
fn ollama_host_is_the_single_default_endpoint() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_HOST", ":11500");
        let loaded = load(&Loader::new())?;
        let [endpoint] = loaded.config.endpoints.as_slice() else { panic!() };
        assert_eq!(endpoint.url.to_string(), "http://127.0.0.1:11500");
        assert_eq!(
            loaded.provenance.find("endpoints[0].url").map(|s| s.source.clone()),
            Some(Source::Env("OLLAMA_HOST".into()))
        );
        Ok(())
    });
}

#[test]
fn an_empty_ollama_host_counts_as_unset() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_HOST", "");
        let loaded = load(&Loader::new())?;
        assert_eq!(loaded.config.endpoints[0].url.to_string(), "http://127.0.0.1:11434");
        Ok(())
    });
}

#[test]
fn ollama_host_is_ignored_when_endpoints_are_configured() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_HOST", "http://elsewhere:1");
        jail.create_file("om.toml", "[[endpoints]]\nurl = \"http://a:1\"\n")?;
        let from_file = load(&Loader::new().file("om.toml"))?;
        assert_eq!(from_file.config.endpoints.len(), 1);
        assert_eq!(from_file.config.endpoints[0].url.to_string(), "http://a:1");

        let flags = Overrides { endpoints: vec!["http://b:2".into()], settings: vec![] };
        let from_flag = load(&Loader::new().overrides(flags))?;
        assert_eq!(from_flag.config.endpoints[0].url.to_string(), "http://b:2");

        jail.set_env("OLLAMA_META_ENDPOINTS", r#"[{url = "http://c:3"}]"#);
        let from_env = load(&Loader::new())?;
        assert_eq!(from_env.config.endpoints.len(), 1);
        assert_eq!(from_env.config.endpoints[0].url.to_string(), "http://c:3");
        Ok(())
    });
}

#[test]
fn a_bad_ollama_host_names_the_variable() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_HOST", "ftp://x");
        let error = load_err(&Loader::new())?;
        let problem = problem_at(&error, "endpoints[0].url")?;
        assert_eq!(problem.source, Source::Env("OLLAMA_HOST".into()));
        assert!(problem.message.contains("scheme must be http or https"), "{problem}");
        Ok(())
    });
}

#[test]
fn explicit_empty_list_is_an_error_not_a_fallback() {
    clean_jail(|jail| {
        jail.set_env("OLLAMA_HOST", "gpu-box");
        jail.create_file("om.toml", "endpoints = []\n")?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let problem = problem_at(&error, "endpoints")?;
        assert_eq!(problem.source, Source::File("om.toml".into()));
        assert!(problem.message.contains("at least one endpoint"), "{problem}");
        Ok(())
    });
}
