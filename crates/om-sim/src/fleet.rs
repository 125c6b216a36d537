//! Fleet files: several simulated endpoints described in one TOML file, for
//! `ollama-meta sim --fleet FILE`.
//!
//! ```toml
//! [[endpoint]]
//! name = "gpu-box"
//! listen = "127.0.0.1:11500"
//! models = ["llama3.2", "codellama:13b", { name = "tiny:1b", base = "llama3.2", context_length = 8192 }]
//! tokens_per_sec = 80.0   # a lone request's speed
//! ttft = "50ms"           # a lone request's prompt evaluation
//! batch_exponent = 0.5    # n concurrent requests get min(n^0.5, max_speedup)× in all
//! max_speedup = 2.0
//! load_time = "2s"
//! num_parallel = 2
//! keep_alive = "10m"      # negative means forever
//! reply = "echo"          # lorem | echo | aider | rules:PATH (relative to the file)
//!
//! [endpoint.faults]
//! error_rate = 0.05
//! stall_after_tokens = { tokens = 20, duration = "3s" }
//! flapping = { down_for = "5s", period = "60s" }
//!
//! [[endpoint]]
//! name = "laptop"
//! listen = "127.0.0.1:11501"
//! ```
//!
//! Every key is optional except that the file needs at least one
//! `[[endpoint]]`; omitted keys take [`EndpointSpec::default`]'s values and
//! `listen` defaults to `127.0.0.1:0`. Unknown keys are errors. Durations use
//! Go syntax (`"300ms"`, `"1h30m"`).
//!
//! `models` entries are any valid Ollama model names — the default set
//! ([`crate::default_models`]) as documented, any other name derived from
//! the name by [`ModelSpec::from_name`] — or inline tables whose omitted
//! fields come from `base` (any name; the entry's own `name` when left
//! out).
//!
//! `batch_exponent` (in `[0, 1]`, default 0.5) and `max_speedup` (at least
//! 1, default 2.0; `inf` for no cap) set how the endpoint's requests share
//! its compute ([`EndpointSpec::batch_exponent`]): every request evaluating
//! a prompt or generating, on any model and in any slot, slows the others
//! down. `batch_exponent = 1.0` with `max_speedup = inf` makes them
//! independent.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use om_core::{Capabilities, Capability, GoDuration, ModelName};
use serde::Deserialize;

use crate::fault::Faults;
use crate::reply::ReplyMode;
use crate::spec::{EndpointSpec, ModelSpec, derived_digest};

/// A parsed fleet file.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// The endpoints, in file order.
    pub endpoints: Vec<FleetEndpoint>,
}

/// One endpoint of a fleet: where it listens and how it behaves.
#[derive(Debug, Clone)]
pub struct FleetEndpoint {
    /// The address to bind (`127.0.0.1:0` unless given).
    pub listen: SocketAddr,
    /// Its behaviour.
    pub spec: EndpointSpec,
}

/// Why a fleet file was refused. The message names the file and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The file could not be read.
    #[error("cannot read fleet file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML of the fleet shape (the message has the line
    /// and the offending key).
    #[error("{origin}: {message}")]
    Syntax {
        /// The file, or `<string>`.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A value is not acceptable.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// The file, or `<string>`.
        origin: String,
        /// The key path, like `endpoint[1].models[0]`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl FleetError {
    /// True when the file could not be read.
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Read { .. })
    }

    /// True when the file is not TOML of the expected shape.
    pub fn is_syntax(&self) -> bool {
        matches!(self, Self::Syntax { .. })
    }

    /// True when a value was refused.
    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Invalid { .. })
    }

    /// The key path of an invalid value.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    #[serde(default)]
    endpoint: Vec<RawEndpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    name: Option<String>,
    listen: Option<String>,
    models: Option<Vec<RawModel>>,
    tokens_per_sec: Option<f64>,
    ttft: Option<String>,
    batch_exponent: Option<f64>,
    max_speedup: Option<f64>,
    load_time: Option<String>,
    num_parallel: Option<usize>,
    max_queue: Option<usize>,
    max_loaded_models: Option<usize>,
    keep_alive: Option<String>,
    seed: Option<u64>,
    reply: Option<String>,
    version: Option<String>,
    faults: Option<RawFaults>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawModel {
    Name(String),
    Table(RawModelTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelTable {
    name: String,
    base: Option<String>,
    family: Option<String>,
    parameter_size: Option<String>,
    quantization: Option<String>,
    context_length: Option<u64>,
    embedding_length: Option<u64>,
    capabilities: Option<Vec<String>>,
    size_bytes: Option<u64>,
    digest: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    error_rate: Option<f64>,
    busy_rate: Option<f64>,
    hang_before_first_byte: Option<bool>,
    stall_after_tokens: Option<RawStall>,
    disconnect_after_tokens: Option<u64>,
    malformed_line_after_tokens: Option<u64>,
    error_line_after_tokens: Option<u64>,
    slow_load: Option<String>,
    flapping: Option<RawFlapping>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStall {
    tokens: u64,
    duration: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlapping {
    down_for: String,
    period: String,
}

/// Builds errors that name the origin and the key.
struct Ctx<'a> {
    origin: &'a str,
    /// Directory that relative `rules:` paths are resolved against.
    base_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    fn invalid(&self, key: impl Into<String>, message: impl Into<String>) -> FleetError {
        FleetError::Invalid {
            origin: self.origin.to_owned(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// A non-negative Go duration.
    fn duration(&self, key: &str, text: &str) -> Result<Duration, FleetError> {
        let parsed = GoDuration::parse(text).map_err(|err| self.invalid(key, err.to_string()))?;
        parsed.to_std().ok_or_else(|| self.invalid(key, format!("{text:?} must not be negative")))
    }

    fn rate(&self, key: &str, rate: f64) -> Result<f64, FleetError> {
        if (0.0..=1.0).contains(&rate) {
            Ok(rate)
        } else {
            Err(self.invalid(key, format!("{rate} is not a rate between 0 and 1")))
        }
    }
}

impl FleetSpec {
    /// Parses a fleet from TOML text; relative `rules:` paths are relative to
    /// the working directory.
    ///
    /// # Errors
    ///
    /// [`FleetError::Syntax`] or [`FleetError::Invalid`], naming `<string>`.
    pub fn from_toml_str(text: &str) -> Result<Self, FleetError> {
        Self::parse(text, &Ctx { origin: "<string>", base_dir: None })
    }

    /// Reads and parses a fleet file; relative `rules:` paths are relative to
    /// the file's directory.
    ///
    /// # Errors
    ///
    /// Any [`FleetError`], naming the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, FleetError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| FleetError::Read { path: path.to_owned(), source })?;
        let origin = path.display().to_string();
        Self::parse(&text, &Ctx { origin: &origin, base_dir: path.parent() })
    }

    fn parse(text: &str, ctx: &Ctx<'_>) -> Result<Self, FleetError> {
        let raw: RawFleet = toml::from_str(text).map_err(|err| FleetError::Syntax {
            origin: ctx.origin.to_owned(),
            message: err.to_string().trim_end().to_owned(),
        })?;
        if raw.endpoint.is_empty() {
            return Err(ctx.invalid("endpoint", "the fleet needs at least one [[endpoint]]"));
        }
        let mut names = HashSet::new();
        let mut ports = HashSet::new();
        let mut endpoints = Vec::with_capacity(raw.endpoint.len());
        for (i, raw) in raw.endpoint.into_iter().enumerate() {
            let endpoint = endpoint(raw, i, ctx)?;
            if !names.insert(endpoint.spec.name.clone()) {
                return Err(ctx.invalid(
                    format!("endpoint[{i}].name"),
                    format!("{:?} is used twice", endpoint.spec.name),
                ));
            }
            if endpoint.listen.port() != 0 && !ports.insert(endpoint.listen) {
                return Err(ctx.invalid(
                    format!("endpoint[{i}].listen"),
                    format!("{} is used twice", endpoint.listen),
                ));
            }
            endpoints.push(endpoint);
        }
        Ok(Self { endpoints })
    }
}

fn endpoint(raw: RawEndpoint, i: usize, ctx: &Ctx<'_>) -> Result<FleetEndpoint, FleetError> {
    let key = |field: &str| format!("endpoint[{i}].{field}");
    let defaults = EndpointSpec::default();
    let listen = match raw.listen {
        Some(text) => text
            .parse::<SocketAddr>()
            .map_err(|err| ctx.invalid(key("listen"), format!("{text:?}: {err}")))?,
        None => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    };
    let models = match raw.models {
        Some(models) => models
            .into_iter()
            .enumerate()
            .map(|(m, model)| model_spec(model, &format!("endpoint[{i}].models[{m}]"), ctx))
            .collect::<Result<Vec<_>, _>>()?,
        None => defaults.models,
    };
    let tokens_per_sec = raw.tokens_per_sec.unwrap_or(defaults.tokens_per_sec);
    if !(tokens_per_sec.is_finite() && tokens_per_sec > 0.0) {
        return Err(
            ctx.invalid(key("tokens_per_sec"), format!("{tokens_per_sec} is not a positive speed"))
        );
    }
    let batch_exponent = raw.batch_exponent.unwrap_or(defaults.batch_exponent);
    if !(0.0..=1.0).contains(&batch_exponent) {
        return Err(ctx.invalid(
            key("batch_exponent"),
            format!("{batch_exponent} is not an exponent between 0 and 1"),
        ));
    }
    let max_speedup = raw.max_speedup.unwrap_or(defaults.max_speedup);
    if max_speedup.is_nan() || max_speedup < 1.0 {
        return Err(ctx
            .invalid(key("max_speedup"), format!("{max_speedup} is not a speedup of at least 1")));
    }
    let keep_alive = match raw.keep_alive {
        Some(text) => {
            let parsed = GoDuration::parse(&text)
                .map_err(|err| ctx.invalid(key("keep_alive"), err.to_string()))?;
            // Negative means forever, as for Ollama's OLLAMA_KEEP_ALIVE.
            parsed.to_std().unwrap_or(Duration::MAX)
        }
        None => defaults.keep_alive,
    };
    let reply = match raw.reply {
        Some(text) => {
            reply_mode(&text, ctx).map_err(|message| ctx.invalid(key("reply"), message))?
        }
        None => defaults.reply,
    };
    let num_parallel = raw.num_parallel.unwrap_or(defaults.num_parallel);
    if num_parallel == 0 {
        return Err(ctx.invalid(key("num_parallel"), "must be at least 1"));
    }
    Ok(FleetEndpoint {
        listen,
        spec: EndpointSpec {
            name: raw.name.unwrap_or_else(|| format!("sim-{i}")),
            models,
            tokens_per_sec,
            ttft: raw.ttft.map_or(Ok(defaults.ttft), |t| ctx.duration(&key("ttft"), &t))?,
            batch_exponent,
            max_speedup,
            load_time: raw
                .load_time
                .map_or(Ok(defaults.load_time), |t| ctx.duration(&key("load_time"), &t))?,
            num_parallel,
            max_queue: raw.max_queue.unwrap_or(defaults.max_queue),
            max_loaded_models: raw.max_loaded_models.unwrap_or(defaults.max_loaded_models),
            keep_alive,
            seed: raw.seed.unwrap_or(defaults.seed),
            reply,
            version: raw.version.unwrap_or(defaults.version),
            faults: raw.faults.map_or(Ok(Faults::default()), |f| faults(f, &key("faults"), ctx))?,
        },
    })
}

/// Parses a reply mode, resolving a relative `rules:` path against the
/// fleet file's directory.
fn reply_mode(text: &str, ctx: &Ctx<'_>) -> Result<ReplyMode, String> {
    let resolved = match (text.strip_prefix("rules:"), ctx.base_dir) {
        (Some(path), Some(dir)) if Path::new(path).is_relative() => {
            format!("rules:{}", dir.join(path).display())
        }
        _ => text.to_owned(),
    };
    resolved.parse::<ReplyMode>().map_err(|err| err.to_string())
}

fn model_spec(raw: RawModel, key: &str, ctx: &Ctx<'_>) -> Result<ModelSpec, FleetError> {
    let table = match raw {
        RawModel::Name(name) => {
            let name: ModelName = name.parse().map_err(|err| ctx.invalid(key, format!("{err}")))?;
            return Ok(ModelSpec::from_name(name));
        }
        RawModel::Table(table) => table,
    };
    let name: ModelName =
        table.name.parse().map_err(|err| ctx.invalid(format!("{key}.name"), format!("{err}")))?;
    let base = match table.base.as_deref() {
        Some(base) => {
            let base: ModelName =
                base.parse().map_err(|err| ctx.invalid(format!("{key}.base"), format!("{err}")))?;
            ModelSpec::from_name(base)
        }
        None => ModelSpec::from_name(name.clone()),
    };
    let capabilities = match table.capabilities {
        Some(names) => names
            .iter()
            .map(|n| {
                n.parse::<Capability>()
                    .map_err(|err| ctx.invalid(format!("{key}.capabilities"), err.to_string()))
            })
            .collect::<Result<Capabilities, _>>()?,
        None => base.capabilities,
    };
    let digest = match table.digest {
        Some(digest) if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) => {
            digest.to_ascii_lowercase()
        }
        Some(digest) => {
            return Err(ctx
                .invalid(format!("{key}.digest"), format!("{digest:?} is not 64 hex characters")));
        }
        None => derived_digest(name.as_key()),
    };
    Ok(ModelSpec {
        family: table.family.unwrap_or(base.family),
        parameter_size: table.parameter_size.unwrap_or(base.parameter_size),
        quantization: table.quantization.unwrap_or(base.quantization),
        context_length: table.context_length.unwrap_or(base.context_length),
        embedding_length: table.embedding_length.unwrap_or(base.embedding_length),
        capabilities,
        size_bytes: table.size_bytes.unwrap_or(base.size_bytes),
        digest,
        name,
    })
}

fn faults(raw: RawFaults, key: &str, ctx: &Ctx<'_>) -> Result<Faults, FleetError> {
    let field = |f: &str| format!("{key}.{f}");
    Ok(Faults {
        error_rate: ctx.rate(&field("error_rate"), raw.error_rate.unwrap_or(0.0))?,
        busy_rate: ctx.rate(&field("busy_rate"), raw.busy_rate.unwrap_or(0.0))?,
        hang_before_first_byte: raw.hang_before_first_byte.unwrap_or(false),
        stall_after_tokens: match raw.stall_after_tokens {
            Some(stall) => Some((
                stall.tokens,
                ctx.duration(&field("stall_after_tokens.duration"), &stall.duration)?,
            )),
            None => None,
        },
        disconnect_after_tokens: raw.disconnect_after_tokens,
        malformed_line_after_tokens: raw.malformed_line_after_tokens,
        error_line_after_tokens: raw.error_line_after_tokens,
        slow_load: raw
            .slow_load
            .map_or(Ok(Duration::ZERO), |t| ctx.duration(&field("slow_load"), &t))?,
        flapping: match raw.flapping {
            Some(flap) => {
                let down = ctx.duration(&field("flapping.down_for"), &flap.down_for)?;
                let period = ctx.duration(&field("flapping.period"), &flap.period)?;
                if period.is_zero() {
                    return Err(ctx.invalid(field("flapping.period"), "must be longer than zero"));
                }
                Some((down, period))
            }
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example_parses() {
        let fleet = FleetSpec::from_toml_str(
            r#"
            [[endpoint]]
            name = "gpu-box"
            listen = "127.0.0.1:11500"
            models = ["llama3.2", "qwen3:8b", { name = "tiny:1b", context_length = 8192, capabilities = ["completion"] }, "codellama:13b", { name = "mine", base = "phi3:mini" }]
            tokens_per_sec = 80.0
            ttft = "50ms"
            batch_exponent = 0.8
            max_speedup = inf
            load_time = "2s"
            num_parallel = 2
            keep_alive = "-1m"
            reply = "echo"

            [endpoint.faults]
            error_rate = 0.05
            stall_after_tokens = { tokens = 20, duration = "3s" }
            flapping = { down_for = "5s", period = "60s" }

            [[endpoint]]
            "#,
        )
        .unwrap();
        assert_eq!(fleet.endpoints.len(), 2);
        let first = &fleet.endpoints[0];
        assert_eq!(first.listen.port(), 11500);
        assert_eq!(first.spec.models.len(), 5);
        let tiny = &first.spec.models[2];
        assert_eq!(tiny.context_length, 8192);
        // Without a base the rest is derived from the entry's own name.
        assert_eq!((tiny.family.as_str(), tiny.parameter_size.as_str()), ("tiny", "1B"));
        let codellama = &first.spec.models[3];
        assert_eq!(
            (codellama.family.as_str(), codellama.parameter_size.as_str()),
            ("llama", "13B")
        );
        let mine = &first.spec.models[4];
        assert_eq!((mine.family.as_str(), mine.parameter_size.as_str()), ("phi3", "3.8B"));
        assert_eq!(mine.name.to_string(), "mine:latest");
        assert!((first.spec.batch_exponent - 0.8).abs() < 1e-12);
        assert!(first.spec.max_speedup.is_infinite());
        assert_eq!(first.spec.keep_alive, Duration::MAX);
        assert_eq!(first.spec.ttft, Duration::from_millis(50));
        assert!(matches!(first.spec.reply, ReplyMode::Echo));
        assert_eq!(first.spec.faults.stall_after_tokens, Some((20, Duration::from_secs(3))));
        let second = &fleet.endpoints[1];
        assert_eq!(second.spec.name, "sim-1");
        assert_eq!(second.listen.port(), 0);
        assert_eq!(second.spec.models.len(), 4);
        assert!((second.spec.batch_exponent - 0.5).abs() < 1e-12);
        assert!((second.spec.max_speedup - 2.0).abs() < 1e-12);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[[endpoint]]\nmodels = [\"bad name\"]", "endpoint[0].models[0]"),
            (
                "[[endpoint]]\nmodels = [\"ok\", { name = \"x\", base = \"a:\" }]",
                "endpoint[0].models[1].base",
            ),
            ("[[endpoint]]\nbatch_exponent = 1.5", "endpoint[0].batch_exponent"),
            ("[[endpoint]]\nbatch_exponent = -0.1", "endpoint[0].batch_exponent"),
            ("[[endpoint]]\nbatch_exponent = nan", "endpoint[0].batch_exponent"),
            ("[[endpoint]]\nmax_speedup = 0.5", "endpoint[0].max_speedup"),
            ("[[endpoint]]\nmax_speedup = nan", "endpoint[0].max_speedup"),
            ("[[endpoint]]\nttft = \"300\"", "endpoint[0].ttft"),
            (
                "[[endpoint]]\n[[endpoint]]\nfaults = { error_rate = 2.0 }",
                "endpoint[1].faults.error_rate",
            ),
            ("[[endpoint]]\nname = \"a\"\n[[endpoint]]\nname = \"a\"", "endpoint[1].name"),
            ("[[endpoint]]\nreply = \"shout\"", "endpoint[0].reply"),
            ("", "endpoint"),
        ];
        for (text, key) in cases {
            let err = FleetSpec::from_toml_str(text).unwrap_err();
            assert!(err.is_invalid(), "{text}: {err}");
            assert_eq!(err.key(), Some(key), "{text}: {err}");
            assert!(err.to_string().starts_with("<string>: "), "{err}");
        }
        let err = FleetSpec::from_toml_str("[[endpoint]]\ntypo = 1").unwrap_err();
        assert!(err.is_syntax());
        assert!(err.to_string().contains("typo"), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = FleetSpec::from_file("/nonexistent/fleet.toml").unwrap_err();
        assert!(err.is_io());
        assert!(err.to_string().contains("/nonexistent/fleet.toml"));
    }
}
