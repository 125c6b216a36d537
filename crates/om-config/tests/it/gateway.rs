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
        jail.set_env("OLLAMA_META_GATEWAY__AUTH_TOKEN", "12345");
        let loaded = load(&Loader::new().file("om.toml"))?;
        let gateway = &loaded.config.gateway;
        assert_eq!(gateway.listen, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert_eq!(gateway.max_body_bytes, 1024);
        assert_eq!(gateway.shutdown_grace, Duration::from_secs(5));
        assert_eq!(gateway.header_read_timeout, Duration::from_secs(30), "default kept");
        assert!(!gateway.forward_authorization);
        // A number-like token arrives typed from the environment; it is still text.
        assert_eq!(gateway.auth_token.as_ref().map(Secret::expose), Some("12345"));
        let shown = loaded.provenance.find("gateway.auth_token").expect("listed");
        assert_eq!(shown.value, Secret::REDACTED);
        assert_eq!(shown.source, Source::Env("OLLAMA_META_GATEWAY__AUTH_TOKEN".into()));
        assert!(!loaded.provenance.to_string().contains("12345"));
        assert!(!loaded.config.to_toml_string().unwrap().contains("12345"));
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
