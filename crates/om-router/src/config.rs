//! The router's settings: plain data taken from om-config's `[routing]`
//! section by [`RouterConfig::from_config`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use om_core::TaskCategory;

/// The built-in strategies, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrategyKind {
    /// Each eligible instance in turn, in proportion to its weight.
    RoundRobin,
    /// The fewest requests in flight per unit of endpoint capacity.
    LeastLoaded,
    /// A weighted random draw from a seeded generator.
    Random,
    /// The lowest expected time: TTFT plus output over tokens per second,
    /// adjusted for success rate and load.
    Performance,
    /// The best learned quality for the category, with UCB1 exploration.
    Affinity,
    /// Affinity where the category has data, performance otherwise.
    Hybrid,
    /// The earliest expected completion, counting the queue ahead on each
    /// endpoint; holds a request for a busy instance that would still
    /// finish it first.
    CompletionTime,
}

impl StrategyKind {
    /// Every built-in strategy.
    pub const ALL: [Self; 7] = [
        Self::RoundRobin,
        Self::LeastLoaded,
        Self::Random,
        Self::Performance,
        Self::Affinity,
        Self::Hybrid,
        Self::CompletionTime,
    ];

    /// The `snake_case` name, as configuration files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::LeastLoaded => "least_loaded",
            Self::Random => "random",
            Self::Performance => "performance",
            Self::Affinity => "affinity",
            Self::Hybrid => "hybrid",
            Self::CompletionTime => "completion_time",
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy name that is not built in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown routing strategy {input:?}; expected one of: round_robin, least_loaded, random, performance, affinity, hybrid, completion_time"
)]
pub struct UnknownStrategy {
    /// The name given.
    pub input: String,
}

impl FromStr for StrategyKind {
    type Err = UnknownStrategy;

    /// Parses a name; case, `-` for `_` and surrounding spaces do not matter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| UnknownStrategy { input: s.to_owned() })
    }
}

/// Router settings, taken from om-config's `[routing]` section (where the
/// defaults live), plus exact decisions up to 64 candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    /// The strategy for every category without its own.
    pub strategy: StrategyKind,
    /// Strategies for particular categories.
    pub categories: BTreeMap<TaskCategory, StrategyKind>,
    /// How much a cold instance (model not loaded) is held back: its weight
    /// is divided by `1 + cold_penalty`. With cost-based strategies a warm
    /// instance wins unless a cold one is that much cheaper; with
    /// round-robin and random a cold one gets that much less traffic.
    /// 0 turns the preference off.
    pub cold_penalty: f64,
    /// How many fallbacks a decision ranks after the chosen instance (at
    /// most 15).
    pub max_fallbacks: usize,
    /// UCB1's exploration constant `c` in `mean + c·√(ln N / n)`.
    pub exploration: f64,
    /// Trials of a model in a category before the hybrid strategy trusts
    /// affinity over performance.
    pub min_samples: u64,
    /// Output tokens assumed when a request sets no `num_predict`, for the
    /// performance estimate.
    pub default_output_tokens: u64,
    /// Seed of the random strategy, tie-breaks, exploration and samples;
    /// the same seed and the same calls give the same decisions.
    pub seed: u64,
    /// Up to this many candidates (instances of the selected models, before
    /// filtering) a decision filters and ranks every one; above it, a
    /// sample, as the strategy's [`Sampling`](crate::Sampling) says, so
    /// that a decision costs about the same at 100 instances as at 10,000.
    pub exact_limit: usize,
}

/// The seed when `[routing].seed` gives none.
const DEFAULT_SEED: u64 = 0x6f6c_6c61_6d61;
/// Candidates up to which a decision looks at every one.
const EXACT_LIMIT: usize = 64;

impl Default for RouterConfig {
    /// om-config's `[routing]` defaults.
    fn default() -> Self {
        let routing = om_config::Routing::default();
        // om-config's default names a built-in strategy (a test holds it
        // to that), so the fallback is never taken.
        let strategy = routing.strategy.parse().unwrap_or(StrategyKind::RoundRobin);
        Self::with(&routing, strategy, BTreeMap::new())
    }
}

impl RouterConfig {
    /// The settings `[routing]` gives; strategy names are parsed here.
    ///
    /// # Errors
    ///
    /// [`UnknownStrategy`] for a name that is not built in.
    pub fn from_config(routing: &om_config::Routing) -> Result<Self, UnknownStrategy> {
        let mut categories = BTreeMap::new();
        for (category, name) in &routing.categories {
            categories.insert(*category, name.parse()?);
        }
        Ok(Self::with(routing, routing.strategy.parse()?, categories))
    }

    fn with(
        routing: &om_config::Routing,
        strategy: StrategyKind,
        categories: BTreeMap<TaskCategory, StrategyKind>,
    ) -> Self {
        Self {
            strategy,
            categories,
            cold_penalty: routing.cold_penalty,
            max_fallbacks: routing.max_fallbacks as usize,
            exploration: routing.exploration,
            min_samples: routing.min_samples,
            default_output_tokens: routing.default_output_tokens,
            seed: routing.seed.unwrap_or(DEFAULT_SEED),
            exact_limit: EXACT_LIMIT,
        }
    }

    /// The defaults with these strategies, by name.
    ///
    /// # Errors
    ///
    /// [`UnknownStrategy`] for a name that is not built in.
    pub fn from_names<'a>(
        strategy: &str,
        categories: impl IntoIterator<Item = (TaskCategory, &'a str)>,
    ) -> Result<Self, UnknownStrategy> {
        let mut config = Self { strategy: strategy.parse()?, ..Self::default() };
        for (category, name) in categories {
            config.categories.insert(category, name.parse()?);
        }
        Ok(config)
    }

    /// The strategy for `category`.
    pub fn strategy_for(&self, category: Option<TaskCategory>) -> StrategyKind {
        category.and_then(|c| self.categories.get(&c).copied()).unwrap_or(self.strategy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_parse_leniently() {
        for kind in StrategyKind::ALL {
            assert_eq!(kind.as_str().parse::<StrategyKind>().unwrap(), kind);
        }
        assert_eq!(" Least-Loaded ".parse::<StrategyKind>().unwrap(), StrategyKind::LeastLoaded);
        let err = "fastest".parse::<StrategyKind>().unwrap_err();
        assert!(err.to_string().starts_with("unknown routing strategy \"fastest\""));
    }

    #[test]
    fn the_default_strategy_is_built_in() {
        let routing = om_config::Routing::default();
        let parsed: StrategyKind = routing.strategy.parse().unwrap();
        assert_eq!(RouterConfig::default().strategy, parsed);
        assert_eq!(RouterConfig::from_config(&routing).unwrap(), RouterConfig::default());
    }

    #[test]
    fn per_category_strategies() {
        let config =
            RouterConfig::from_names("least_loaded", [(TaskCategory::Coding, "affinity")]).unwrap();
        assert_eq!(config.strategy_for(Some(TaskCategory::Coding)), StrategyKind::Affinity);
        assert_eq!(config.strategy_for(Some(TaskCategory::Testing)), StrategyKind::LeastLoaded);
        assert_eq!(config.strategy_for(None), StrategyKind::LeastLoaded);
        assert!(RouterConfig::from_names("hybrid", [(TaskCategory::Coding, "nope")]).is_err());
    }
}
