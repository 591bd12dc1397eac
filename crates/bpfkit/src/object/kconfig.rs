//! The running kernel's configuration for `.kconfig` externs: `/proc/config.gz`
//! (CONFIG_IKCONFIG_PROC), else `/boot/config-$(uname -r)`.

use std::io::Read;

use bpfkit_elf::{parse_kconfig, KconfigEnv};

use crate::error::{Error, Result};

const PROC_CONFIG: &str = "/proc/config.gz";

/// The kernel release (`uname -r`).
pub(crate) fn kernel_release() -> Result<String> {
    let path = "/proc/sys/kernel/osrelease";
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
}

/// The kernel version code `LINUX_KERNEL_VERSION` gives (0 when the release is unreadable).
pub(crate) fn kernel_version_code() -> u32 {
    kernel_release()
        .ok()
        .and_then(|r| bpfkit_elf::externs::parse_kernel_release(&r))
        .unwrap_or(0)
}

fn config_text() -> Result<String> {
    if let Ok(f) = std::fs::File::open(PROC_CONFIG) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(f)
            .read_to_string(&mut text)
            .map_err(|source| Error::Io {
                path: PROC_CONFIG.into(),
                source,
            })?;
        return Ok(text);
    }
    let boot = format!("/boot/config-{}", kernel_release()?);
    std::fs::read_to_string(&boot).map_err(|source| Error::Io {
        path: format!(
            "{boot} (and {PROC_CONFIG} is missing: the kernel has no CONFIG_IKCONFIG_PROC)"
        ),
        source,
    })
}

/// Whether syscalls enter through an architecture wrapper taking a `struct pt_regs *`, as
/// libbpf decides it: the wrapper of bpf(2) is in kallsyms.
fn syscall_wrapper() -> bool {
    let names =
        std::collections::HashSet::from(["__x64_sys_bpf", "__arm64_sys_bpf", "__s390x_sys_bpf"]);
    super::ksyms::kallsyms(&names).is_ok_and(|found| !found.is_empty())
}

/// Everything the `.kconfig` map needs from the running kernel; the config file is read only
/// when `needs_config`, kallsyms only when `needs_wrapper`.
pub(crate) fn running_kernel_env(needs_config: bool, needs_wrapper: bool) -> Result<KconfigEnv> {
    let config = if needs_config {
        parse_kconfig(&config_text()?)?
    } else {
        Default::default()
    };
    let version = kernel_version_code();
    Ok(KconfigEnv {
        config,
        kernel_version: version,
        // bpf_get_attach_cookie arrived in 5.15 for every attach kind libbpf uses it with.
        has_bpf_cookie: version >= bpfkit_elf::externs::kernel_version_code(5, 15, 0),
        has_syscall_wrapper: needs_wrapper && syscall_wrapper(),
    })
}
