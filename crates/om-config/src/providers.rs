//! The figment providers of each layer: labelled defaults and files, one
//! provider per environment variable, and the command-line overrides.
//!
//! Every provider carries a label ([`Source`](crate::Source) reads it back),
//! so that each value in the merged tree can say where it came from.

use std::fmt;
use std::path::Path;

use figment::providers::{Format, Json, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use serde_saphyr::figment::Yaml;

use crate::source::{COMMAND_LINE_NAME, DEFAULTS_NAME, ENV_NAME_PREFIX};

/// Prefix of the environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "OLLAMA_META_";
/// Separator between nested keys in an environment variable name
/// (`OLLAMA_META_RETRY__MAX_ATTEMPTS` sets `retry.max_attempts`).
pub const ENV_SEPARATOR: &str = "__";
/// The variable naming the configuration file when no file is given
/// explicitly. It shares the prefix but is not a configuration key.
pub const CONFIG_FILE_VAR: &str = "OLLAMA_META_CONFIG";
/// Ollama's own variable; its value is the default endpoint.
pub const OLLAMA_HOST_VAR: &str = "OLLAMA_HOST";

/// A provider under a label of our choosing.
pub(crate) struct Labeled {
    metadata: Metadata,
    inner: Box<dyn Provider + Send + Sync>,
}

impl Labeled {
    pub(crate) fn new(metadata: Metadata, inner: impl Provider + Send + Sync + 'static) -> Self {
        Self { metadata, inner: Box::new(inner) }
    }

    /// The built-in defaults.
    pub(crate) fn defaults(inner: impl Provider + Send + Sync + 'static) -> Self {
        Self::new(Metadata::named(DEFAULTS_NAME), inner)
    }

    /// Values from the command line.
    pub(crate) fn command_line(inner: impl Provider + Send + Sync + 'static) -> Self {
        Self::new(Metadata::named(COMMAND_LINE_NAME), inner)
    }
}

impl Provider for Labeled {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.inner.data()
    }
}

impl fmt::Debug for Labeled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Labeled").field("name", &self.metadata.name).finish_non_exhaustive()
    }
}

/// The file formats a configuration file may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    Toml,
    Yaml,
    Json,
}

impl FileFormat {
    /// The format named by the file's extension, if it names one.
    pub(crate) fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "toml" => Some(Self::Toml),
            "yaml" | "yml" => Some(Self::Yaml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// A provider for `text`, labelled with the file it was read from.
    pub(crate) fn provider(self, path: &Path, text: &str) -> Labeled {
        let name = match self {
            Self::Toml => "TOML file",
            Self::Yaml => "YAML file",
            Self::Json => "JSON file",
        };
        // An empty file means "nothing set"; YAML and JSON would otherwise
        // parse it as null and refuse it as not a table.
        let inner: Box<dyn Provider + Send + Sync> = if text.trim().is_empty() {
            Box::new(Serialized::defaults(Dict::new()))
        } else {
            match self {
                Self::Toml => Box::new(Toml::string(text)),
                Self::Yaml => Box::new(Yaml::string(text)),
                Self::Json => Box::new(Json::string(text)),
            }
        };
        Labeled { metadata: Metadata::from(name, path), inner }
    }
}

/// One environment variable as a provider: its name gives the key path and
/// its value is parsed like figment parses environment values (`5` is an
/// integer, `true` a bool, `[a, b]` an array, anything else a string), but
/// a secret (`…_TOKEN`, `…_KEY`) is always its text.
#[derive(Debug, Clone)]
pub(crate) struct EnvVar {
    name: String,
    keys: Vec<String>,
    value: String,
}

impl EnvVar {
    /// The variable as a configuration layer, or `None` when it does not
    /// carry the prefix (compared without regard to case), is the
    /// configuration-file variable, or names no key.
    pub(crate) fn from_var(name: &str, value: &str) -> Option<Self> {
        let prefix = name.get(..ENV_PREFIX.len())?;
        if !prefix.eq_ignore_ascii_case(ENV_PREFIX) || name.eq_ignore_ascii_case(CONFIG_FILE_VAR) {
            return None;
        }
        let keys: Vec<String> =
            name[ENV_PREFIX.len()..].split(ENV_SEPARATOR).map(str::to_ascii_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            return None;
        }
        Some(Self { name: name.to_owned(), keys, value: value.to_owned() })
    }

    /// The variable's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("{ENV_NAME_PREFIX}{}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        insert(&mut dict, &self.keys, parse_value(&self.keys, &self.value));
        Ok(Profile::Default.collect(dict))
    }
}

/// `OLLAMA_HOST` as the endpoint list `[{ url = <value> }]`. Its URL is parsed
/// with the other endpoints, so a bad value is reported at
/// `endpoints[0].url` with the variable as its source.
pub(crate) fn ollama_host(value: &str) -> Labeled {
    let mut endpoint = Dict::new();
    endpoint.insert("url".to_owned(), Value::from(value.to_owned()));
    let mut dict = Dict::new();
    dict.insert("endpoints".to_owned(), Value::from(vec![Value::from(endpoint)]));
    Labeled::new(
        Metadata::named(format!("{ENV_NAME_PREFIX}{OLLAMA_HOST_VAR}")),
        Serialized::defaults(dict),
    )
}

/// Values given on the command line, the last and strongest layer.
///
/// The binary fills this from its flags and passes it to
/// [`Loader::overrides`](crate::Loader::overrides):
///
/// ```
/// use om_config::Overrides;
///
/// let mut flags = Overrides::default();
/// // `--endpoint URL`, repeated: replaces the whole endpoint list.
/// flags.endpoints.push("http://gpu-box:11434".to_owned());
/// // `--set KEY=VALUE`: any key, the value parsed like an environment value.
/// flags.settings.push(("retry.max_attempts".to_owned(), "5".to_owned()));
/// flags.settings.push((r#"models."llama3.2".keep_alive"#.to_owned(), "10m".to_owned()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Endpoint URLs; when not empty they replace every configured endpoint.
    pub endpoints: Vec<String>,
    /// `(key, value)` pairs in the order given; later pairs win. Keys are
    /// dotted paths (`timeouts.first_byte`) whose parts may be quoted
    /// (`models."llama3.2".keep_alive`); values are parsed like environment
    /// values.
    pub settings: Vec<(String, String)>,
}

impl Overrides {
    /// True when no flag set anything.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.settings.is_empty()
    }
}

impl Provider for Overrides {
    fn metadata(&self) -> Metadata {
        Metadata::named(COMMAND_LINE_NAME)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        if !self.endpoints.is_empty() {
            let list = self
                .endpoints
                .iter()
                .map(|url| {
                    let mut endpoint = Dict::new();
                    endpoint.insert("url".to_owned(), Value::from(url.clone()));
                    Value::from(endpoint)
                })
                .collect::<Vec<_>>();
            dict.insert("endpoints".to_owned(), Value::from(list));
        }
        for (key, value) in &self.settings {
            let keys = split_dotted(key).ok_or_else(|| {
                figment::Error::from(format!(
                    "invalid key {key:?} in --set: write a dotted path such as retry.max_attempts"
                ))
            })?;
            insert(&mut dict, &keys, parse_value(&keys, value));
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Parses a value the way figment parses environment values — except a
/// secret's (a key ending in `token` or `key`), which is its text as given:
/// `000123` stays `000123`.
fn parse_value(keys: &[String], text: &str) -> Value {
    if keys.last().is_some_and(|key| is_secret_key(key)) {
        return Value::from(text.to_owned());
    }
    let Ok(value) = text.parse::<Value>();
    value
}

/// True for a key that holds a secret, which is text whatever it looks like.
fn is_secret_key(key: &str) -> bool {
    key.ends_with("token") || key.ends_with("key")
}

/// Puts `value` at `keys` under `dict`, creating tables on the way and
/// replacing anything that is in the way and not a table.
fn insert(dict: &mut Dict, keys: &[String], value: Value) {
    let [first, rest @ ..] = keys else { return };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let slot = dict.entry(first.clone()).or_insert_with(|| Value::from(Dict::new()));
    if !matches!(slot, Value::Dict(..)) {
        *slot = Value::from(Dict::new());
    }
    if let Value::Dict(_, inner) = slot {
        insert(inner, rest, value);
    }
}

/// Splits `a.b."c.d"` into `["a", "b", "c.d"]`; `None` for an empty part or
/// an unclosed quote.
fn split_dotted(key: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in key.trim().chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                if current.is_empty() && !was_quoted {
                    return None;
                }
                parts.push(std::mem::take(&mut current));
                was_quoted = false;
            }
            c => current.push(c),
        }
    }
    if quoted || (current.is_empty() && !was_quoted) {
        return None;
    }
    parts.push(current);
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_become_key_paths() {
        let var = EnvVar::from_var("OLLAMA_META_RETRY__MAX_ATTEMPTS", "5").unwrap();
        assert_eq!(var.keys, ["retry", "max_attempts"]);
        assert_eq!(var.name(), "OLLAMA_META_RETRY__MAX_ATTEMPTS");
        let data = var.data().unwrap();
        let retry = &data[&Profile::Default]["retry"];
        assert_eq!(retry.find_ref("max_attempts").and_then(Value::to_u128), Some(5));
    }

    #[test]
    fn env_names_that_are_not_keys() {
        assert!(EnvVar::from_var("OLLAMA_HOST", "x").is_none());
        assert!(EnvVar::from_var("OLLAMA_META_", "x").is_none());
        assert!(EnvVar::from_var("OLLAMA_META_RETRY__", "x").is_none());
        assert!(EnvVar::from_var("OLLAMA_META_CONFIG", "x.toml").is_none());
        assert!(EnvVar::from_var("ollama_meta_retry__jitter", "false").is_some());
    }

    #[test]
    fn dotted_keys() {
        assert_eq!(split_dotted("a.b").unwrap(), ["a", "b"]);
        assert_eq!(
            split_dotted(r#"models."llama3.2".keep_alive"#).unwrap(),
            ["models", "llama3.2", "keep_alive"]
        );
        assert!(split_dotted("").is_none());
        assert!(split_dotted("a..b").is_none());
        assert!(split_dotted("a.").is_none());
        assert!(split_dotted(r#"a."b"#).is_none());
    }

    #[test]
    fn overrides_build_a_tree() {
        let flags = Overrides {
            endpoints: vec!["http://a:1".into(), "http://b:2".into()],
            settings: vec![
                ("retry.max_attempts".into(), "7".into()),
                ("retry.jitter".into(), "false".into()),
            ],
        };
        let data = flags.data().unwrap();
        let dict = &data[&Profile::Default];
        assert_eq!(dict["retry"].find_ref("max_attempts").and_then(Value::to_u128), Some(7));
        assert_eq!(dict["retry"].find_ref("jitter").and_then(Value::to_bool), Some(false));
        let Value::Array(_, endpoints) = &dict["endpoints"] else { panic!("not an array") };
        assert_eq!(endpoints.len(), 2);
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(FileFormat::from_path(Path::new("a.toml")), Some(FileFormat::Toml));
        assert_eq!(FileFormat::from_path(Path::new("a.YML")), Some(FileFormat::Yaml));
        assert_eq!(FileFormat::from_path(Path::new("a.yaml")), Some(FileFormat::Yaml));
        assert_eq!(FileFormat::from_path(Path::new("a.json")), Some(FileFormat::Json));
        assert_eq!(FileFormat::from_path(Path::new("a.ini")), None);
        assert_eq!(FileFormat::from_path(Path::new("config")), None);
    }
}
