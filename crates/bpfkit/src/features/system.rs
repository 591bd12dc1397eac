//! System configuration that decides what BPF may do: the BPF sysctls and the kernel's build
//! configuration.

use std::io::Read;

use super::tables::KERNEL_CONFIG;

/// The BPF-related sysctls and kernel build options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    /// `kernel.unprivileged_bpf_disabled` (`None`: unreadable).
    pub unprivileged_bpf_disabled: Option<i64>,
    /// `net.core.bpf_jit_enable`.
    pub bpf_jit_enable: Option<i64>,
    /// `net.core.bpf_jit_harden` (readable by root only).
    pub bpf_jit_harden: Option<i64>,
    /// `net.core.bpf_jit_kallsyms` (readable by root only).
    pub bpf_jit_kallsyms: Option<i64>,
    /// `net.core.bpf_jit_limit` in bytes (readable by root only).
    pub bpf_jit_limit: Option<i64>,
    /// Where the kernel configuration was read from, or why it could not be.
    pub kernel_config_source: Result<String, String>,
    /// Each option bpftool reports with its value (`None`: not set).
    pub kernel_config: Vec<(&'static str, Option<String>)>,
}

fn sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reads the sysctls and the kernel configuration (`/boot/config-$(uname -r)`, else
/// `/proc/config.gz`).
pub fn system_config() -> SystemConfig {
    let (source, text) = match read_kernel_config() {
        Ok((s, t)) => (Ok(s), t),
        Err(e) => (Err(e), String::new()),
    };
    let values = parse_kernel_config(&text);
    SystemConfig {
        unprivileged_bpf_disabled: sysctl("/proc/sys/kernel/unprivileged_bpf_disabled"),
        bpf_jit_enable: sysctl("/proc/sys/net/core/bpf_jit_enable"),
        bpf_jit_harden: sysctl("/proc/sys/net/core/bpf_jit_harden"),
        bpf_jit_kallsyms: sysctl("/proc/sys/net/core/bpf_jit_kallsyms"),
        bpf_jit_limit: sysctl("/proc/sys/net/core/bpf_jit_limit"),
        kernel_config_source: source,
        kernel_config: KERNEL_CONFIG
            .iter()
            .map(|&name| {
                let v = values
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone());
                (name, v)
            })
            .collect(),
    }
}

fn read_kernel_config() -> Result<(String, String), String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let boot = format!("/boot/config-{}", release.trim());
    if let Ok(t) = std::fs::read_to_string(&boot) {
        return Ok((boot, t));
    }
    let gz = "/proc/config.gz";
    let file = std::fs::File::open(gz)
        .map_err(|e| format!("can't open kernel config file {boot} or {gz}: {e}"))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .map_err(|e| format!("can't decompress {gz}: {e}"))?;
    Ok((gz.to_string(), text))
}

/// `CONFIG_X=value` lines; `# CONFIG_X is not set` lines and others are skipped.
fn parse_kernel_config(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines() {
        let v = parse_kernel_config(
            "# c\nCONFIG_BPF=y\n# CONFIG_TEST_BPF is not set\nCONFIG_HZ=250\nCONFIG_S=\"x\"\n",
        );
        assert_eq!(
            v,
            vec![
                ("CONFIG_BPF".to_string(), "y".to_string()),
                ("CONFIG_HZ".to_string(), "250".to_string()),
                ("CONFIG_S".to_string(), "x".to_string())
            ]
        );
    }
}
