//! The `[gateway]` section through the loader: the token from the
//! environment (never printed), the other keys from a file, and bad values
//! reported with their keys.

use std::net::SocketAddr;
use std::time::Duration;

use om_config::{Loader, ProblemKind, Secret, Source};

use crate::support::{clean_jail, load, load_err, problem_at};

#[test]
fn the_token_comes_from_the_environment_and_is_never_shown() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [gateway]
            listen = "127.0.0.1:8080"
            max_body_bytes = 1024
            shutdown_grace = "5s"
            "#,
        )?;
        jail.set_env("OLLAMA_META_GATEWAY__AUTH_TOKEN", "0012345");
        let loaded = load(&Loader::new().file("om.toml"))?;
        let gateway = &loaded.config.gateway;
        assert_eq!(gateway.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(gateway.max_body_bytes, 1024);
        assert_eq!(gateway.shutdown_grace, Duration::from_secs(5));
        assert_eq!(gateway.header_read_timeout, Duration::from_secs(30), "default kept");
        assert!(!gateway.forward_authorization);
        // A number-like token is read as the text it is, zeros and all.
        assert_eq!(gateway.auth_token.as_ref().map(Secret::expose), Some("0012345"));
        let shown = loaded.provenance.find("gateway.auth_token").expect("listed");
        assert_eq!(shown.value, Secret::REDACTED);
        assert_eq!(shown.source, Source::Env("OLLAMA_META_GATEWAY__AUTH_TOKEN".into()));
        assert!(!loaded.provenance.to_string().contains("12345"));
        assert!(!loaded.config.to_toml_string().unwrap().contains("12345"));
        Ok(())
    });
}

#[test]
fn a_token_is_text_on_the_command_line_and_must_be_quoted_in_a_file() {
    clean_jail(|jail| {
        let mut flags = om_config::Overrides::default();
        flags.settings.push(("gateway.auth_token".to_owned(), "000123".to_owned()));
        let loaded = load(&Loader::new().overrides(flags))?;
        assert_eq!(loaded.config.gateway.auth_token.as_ref().map(Secret::expose), Some("000123"));

        jail.create_file("om.toml", "[gateway]\nauth_token = 123\n")?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let problem = problem_at(&error, "gateway.auth_token")?;
        assert!(problem.message.contains("quote"), "{problem}");
        Ok(())
    });
}

#[test]
fn bad_values_are_reported_with_their_keys() {
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [gateway]
            listen = "somewhere"
            max_body_bytes = 0
            header_read_timeout = "0s"
            auth_token = " "
            "#,
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        let kind = |path| problem_at(&error, path).map(|p| p.kind);
        assert_eq!(kind("gateway.listen")?, ProblemKind::InvalidValue);
        Ok(())
    });
    clean_jail(|jail| {
        jail.create_file(
            "om.toml",
            r#"
            [gateway]
            max_body_bytes = 0
            header_read_timeout = "0s"
            auth_token = " "
            "#,
        )?;
        let error = load_err(&Loader::new().file("om.toml"))?;
        for path in ["gateway.max_body_bytes", "gateway.header_read_timeout", "gateway.auth_token"]
        {
            assert_eq!(problem_at(&error, path)?.kind, ProblemKind::Constraint, "{path}");
        }
        Ok(())
    });
}
