//! `cargo xtask bench`: runs the criterion benches of the workspace or of one crate.
//!
//! `cargo xtask bench [CRATE] [--save NAME | --compare NAME] [-- ARGS...]` runs
//! `cargo bench --workspace` (or `-p CRATE`). `--save` and `--compare` become criterion's
//! `--save-baseline` and `--baseline`; anything after `--` goes to the bench harness as is.
//!
//! `cargo xtask bench gateway [-- ARGS...]` runs the gateway's own benchmark program
//! (`cargo bench -p om-gateway --bench gateway`): added latency and throughput against the
//! simulator at 1, 64 and 256 clients, memory per open stream, and a 60-second hold of 5,000
//! streams (`-- --hold N --hold-secs S` for other figures).
//!
//! `cargo xtask soak [-- ARGS...]` runs only that hold (`--soak`): it fails unless every
//! stream was held without an error and no file descriptor stayed open afterwards.
//!
//! `cargo xtask bench makespan [-- ARGS...]` runs the scheduling-quality benchmark
//! (`cargo bench -p ollama-meta --bench makespan`, release mode): the makespan of every
//! routing strategy on three heterogeneous simulated fleets (1:3:9 speeds; a cold model; mixed
//! `num_predict`), three seeded 120-task batches each, in virtual time, against an offline
//! earliest-completion-time schedule of the same tasks. `-- STRATEGY...`, `--scenario NAME`,
//! `--tasks N`, `--batches N`, `--workers N`, `--seed N` and `--detail` change what it runs.

use crate::{Result, cargo, run_command};

/// Command-line flags of `cargo xtask bench`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    /// Bench only this package.
    package: Option<String>,
    /// Arguments for the bench harness, after cargo's `--`.
    harness_args: Vec<String>,
}

impl Flags {
    /// Parses the arguments after `bench`.
    pub(crate) fn parse(args: &[String]) -> Result<Self> {
        let mut flags = Self::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--" => {
                    flags.harness_args.extend(args.by_ref().cloned());
                }
                "--save" | "--compare" => {
                    let name = args.next().ok_or_else(|| format!("`bench {arg}` needs a NAME"))?;
                    let criterion_flag =
                        if arg == "--save" { "--save-baseline" } else { "--baseline" };
                    flags.harness_args.push(criterion_flag.to_owned());
                    flags.harness_args.push(name.clone());
                }
                flag if flag.starts_with('-') => {
                    return Err(format!("`bench`: unknown flag `{flag}`").into());
                }
                package => {
                    if let Some(first) = &flags.package {
                        return Err(format!(
                            "`bench` takes one crate, got `{first}` and `{package}`"
                        )
                        .into());
                    }
                    flags.package = Some(package.to_owned());
                }
            }
        }
        Ok(flags)
    }

    /// The arguments to cargo.
    fn cargo_args(&self) -> Vec<String> {
        let mut args = vec!["bench".to_owned()];
        match &self.package {
            Some(package) if package == "gateway" => {
                args.extend(["-p", "om-gateway", "--bench", "gateway"].map(str::to_owned));
            }
            Some(package) if package == "makespan" => {
                args.extend(["-p", "ollama-meta", "--bench", "makespan"].map(str::to_owned));
            }
            Some(package) => args.extend(["-p".to_owned(), package.clone()]),
            None => args.push("--workspace".to_owned()),
        }
        if !self.harness_args.is_empty() {
            args.push("--".to_owned());
            args.extend(self.harness_args.iter().cloned());
        }
        args
    }
}

/// Runs the benches.
pub(crate) fn run(flags: &Flags) -> Result<()> {
    run_command(&mut cargo(flags.cargo_args()))
}

/// `cargo xtask soak [-- ARGS...]`: the gateway bench's hold alone (5,000
/// streams for 60 s by default), which fails on any error or a leaked file
/// descriptor.
pub(crate) fn soak(rest: &[String]) -> Result<()> {
    let mut args: Vec<String> = vec!["gateway".to_owned(), "--".to_owned(), "--soak".to_owned()];
    match rest.split_first() {
        None => {}
        Some((dashes, extra)) if dashes == "--" => args.extend(extra.iter().cloned()),
        Some((other, _)) => return Err(format!("`soak` takes `-- ARGS`, got `{other}`").into()),
    }
    run(&Flags::parse(&args)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Flags> {
        Flags::parse(&args.iter().map(|&arg| arg.to_owned()).collect::<Vec<_>>())
    }

    fn cargo_args(args: &[&str]) -> Vec<String> {
        parse(args).expect("valid arguments").cargo_args()
    }

    #[test]
    fn whole_workspace_by_default() {
        assert_eq!(cargo_args(&[]), ["bench", "--workspace"]);
    }

    #[test]
    fn one_crate_with_extra_args() {
        assert_eq!(
            cargo_args(&["om-core", "--", "p2c", "--quick"]),
            ["bench", "-p", "om-core", "--", "p2c", "--quick"]
        );
    }

    #[test]
    fn gateway_is_its_own_program() {
        assert_eq!(
            cargo_args(&["gateway", "--", "--hold", "100"]),
            ["bench", "-p", "om-gateway", "--bench", "gateway", "--", "--hold", "100"]
        );
    }

    #[test]
    fn makespan_is_its_own_program() {
        assert_eq!(
            cargo_args(&["makespan", "--", "performance", "--detail"]),
            ["bench", "-p", "ollama-meta", "--bench", "makespan", "--", "performance", "--detail"]
        );
    }

    #[test]
    fn baselines_map_to_criterion_flags() {
        assert_eq!(
            cargo_args(&["--save", "main"]),
            ["bench", "--workspace", "--", "--save-baseline", "main"]
        );
        assert_eq!(
            cargo_args(&["om-core", "--compare", "main", "--", "x"]),
            ["bench", "-p", "om-core", "--", "--baseline", "main", "x"]
        );
    }

    #[test]
    fn bad_arguments_are_rejected() {
        assert!(parse(&["--save"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
        assert!(parse(&["a", "b"]).is_err());
    }
}
