//! `bpfkit gen skeleton OBJ [--name NAME] [--embed path|inline|env:VAR]`: a Rust skeleton of a
//! BPF object on stdout (see `bpfkit::skeleton`).

use std::path::PathBuf;

use bpfkit::skeleton::{generate, Embed, SkeletonOptions};

use crate::{emit, CliError, Global};

/// `bpfkit gen …`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    #[command(subcommand)]
    cmd: GenCmd,
}

#[derive(Debug, clap::Subcommand)]
enum GenCmd {
    /// Write a Rust skeleton of OBJ to stdout (`> NAME.skel.rs`).
    Skeleton {
        /// The object file (`NAME.bpf.o`).
        obj: PathBuf,
        /// Skeleton name (default: the object's file name up to its first '.').
        #[arg(long)]
        name: Option<String>,
        /// How to embed the object: `path` (include_bytes! of OBJ as given on this command
        /// line; a relative path resolves from the directory of the file that includes the
        /// skeleton, as include_bytes! does), `path:P` (include_bytes! of P), `inline` (the
        /// bytes in the source) or `env:VAR` (include_bytes! of the path in env var VAR at
        /// build time).
        #[arg(long, default_value = "path")]
        embed: String,
    },
}

/// Runs `gen`.
pub fn run(_g: &Global, args: GenArgs) -> Result<(), CliError> {
    let GenCmd::Skeleton { obj, name, embed } = args.cmd;
    let bytes = std::fs::read(&obj)
        .map_err(|e| CliError::Failed(format!("failed to read {}: {e}", obj.display())))?;
    let file_name = obj
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let name = name.unwrap_or_else(|| bpfkit_elf::object_name_from_path(&obj));
    let embed = match embed.as_str() {
        "path" => Embed::IncludeBytes(obj.display().to_string()),
        "inline" => Embed::Inline,
        e if e.starts_with("path:") && e.len() > 5 => Embed::IncludeBytes(e[5..].to_string()),
        e => match e.strip_prefix("env:") {
            Some(var) if !var.is_empty() => Embed::Env(var.to_string()),
            _ => {
                return Err(CliError::Usage(format!(
                    "--embed takes path, path:P, inline or env:VAR, not '{e}'"
                )))
            }
        },
    };
    let src = generate(&bytes, &file_name, &SkeletonOptions { name, embed }).map_err(|e| {
        CliError::Failed(format!(
            "failed to generate a skeleton of {}: {e}",
            obj.display()
        ))
    })?;
    emit(&src)
}
