//! `__kconfig` and `__ksym` externs: what the object declares, the kconfig text format, and
//! the pure resolution of `.kconfig` values.
//!
//! Externs are undefined ELF symbols; the object's BTF says what they are through the DATASECs
//! `.kconfig` and `.ksyms`. Kconfig externs live in one read-only array map the loader fills
//! with [`crate::Object::kconfig_data`]; ksyms become BTF ids or kallsyms addresses, which only
//! the loader can find.

use std::collections::HashMap;

use bpfkit_btf::{Btf, Detail, Kind, INT_BOOL, INT_CHAR, INT_SIGNED};
use object::elf;

use crate::error::{Error, Result};
use crate::maps::DataVar;
use crate::object::Ctx;

/// An extern symbol of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extern {
    /// Symbol name (`CONFIG_HZ`, `bpf_task_acquire` …).
    pub name: String,
    /// Declared `__weak`: a missing value or symbol resolves to 0 instead of failing.
    pub weak: bool,
    /// The VAR or FUNC type id in the object's BTF.
    pub btf_id: u32,
    /// What kind of extern.
    pub kind: ExternKind,
}

/// What an [`Extern`] refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternKind {
    /// A `.kconfig` value at `offset` of the `.kconfig` map.
    Kconfig {
        /// Byte offset in the `.kconfig` map value.
        offset: u32,
        /// Size in bytes.
        size: u32,
        /// C type of the extern.
        ty: KconfigType,
    },
    /// A kernel variable (`extern const struct rq runqueues __ksym`).
    Ksym {
        /// Type of the variable in the object's BTF; `None` for typeless
        /// `extern const void sym __ksym`, which resolves through `/proc/kallsyms`. A typed one
        /// needs the vmlinux (or module) BTF id of the VAR of that name.
        type_id: Option<u32>,
    },
    /// A kernel function called from the program (kfunc); needs its vmlinux BTF FUNC id.
    Kfunc {
        /// FUNC_PROTO of the declaration in the object's BTF.
        proto_id: u32,
    },
}

/// The C type of a `.kconfig` extern, as libbpf distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KconfigType {
    /// `bool`: y → 1, n → 0.
    Bool,
    /// `enum libbpf_tristate`: n → 0, y → 1, m → 2.
    Tristate,
    /// `char`: the letter y, n or m.
    Char,
    /// An integer of `size` bytes.
    Int {
        /// Size in bytes (1, 2, 4 or 8).
        size: u32,
        /// Signed type.
        signed: bool,
    },
    /// `char NAME[len]`: a string value, NUL-terminated, cut to fit.
    CharArray {
        /// Array length.
        len: u32,
    },
}

impl KconfigType {
    fn size(self) -> u32 {
        match self {
            KconfigType::Bool | KconfigType::Char => 1,
            KconfigType::Tristate => 4,
            KconfigType::Int { size, .. } => size,
            KconfigType::CharArray { len } => len,
        }
    }

    fn align(self) -> u32 {
        match self {
            KconfigType::CharArray { .. } => 1,
            other => other.size(),
        }
    }
}

/// One value of a kernel configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KconfigValue {
    /// `=y`.
    Yes,
    /// `=m`.
    Module,
    /// `=n`, or `# CONFIG_X is not set`.
    No,
    /// A quoted string, unescaped.
    Str(String),
    /// A decimal or `0x` hexadecimal number.
    Num(i128),
}

/// Parses kernel config text (`/proc/config.gz` decompressed, `/boot/config-*`):
/// `CONFIG_X=y|m|n|"text"|123|0x1f` lines and `# CONFIG_X is not set` comments.
pub fn parse_kconfig(text: &str) -> Result<HashMap<String, KconfigValue>> {
    let mut out = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let bad = |detail: String| Error::Kconfig {
            line: i + 1,
            detail,
        };
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(name) = comment.trim().strip_suffix(" is not set") {
                if name.starts_with("CONFIG_") && !name.contains(char::is_whitespace) {
                    out.insert(name.to_string(), KconfigValue::No);
                }
            }
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| bad(format!("`{line}` is not NAME=VALUE")))?;
        if !name.starts_with("CONFIG_") || name.contains(char::is_whitespace) {
            return Err(bad(format!("`{name}` is not a CONFIG_ name")));
        }
        let value = match value {
            "y" => KconfigValue::Yes,
            "m" => KconfigValue::Module,
            "n" => KconfigValue::No,
            v if v.starts_with('"') => {
                KconfigValue::Str(unquote(v).ok_or_else(|| bad(format!("bad string {v}")))?)
            }
            v => KconfigValue::Num(
                parse_num(v)
                    .ok_or_else(|| bad(format!("`{v}` is neither y/m/n, a string nor a number")))?,
            ),
        };
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

fn unquote(v: &str) -> Option<String> {
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    let mut s = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => s.push(chars.next()?),
            '"' => return None,
            c => s.push(c),
        }
    }
    Some(s)
}

fn parse_num(v: &str) -> Option<i128> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v),
    };
    let n = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() => i128::from_str_radix(hex, 16).ok()?,
        _ if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        _ => return None,
    };
    Some(if neg { -n } else { n })
}

/// `KERNEL_VERSION(major, minor, patch)` as the kernel encodes it (patch saturates at 255).
pub fn kernel_version_code(major: u32, minor: u32, patch: u32) -> u32 {
    (major << 16) | ((minor & 0xff) << 8) | patch.min(255)
}

/// The version code of a release string such as `6.18.0-1-amd64` (from `uname -r`).
pub fn parse_kernel_release(release: &str) -> Option<u32> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some(kernel_version_code(major, minor, patch))
}

/// What the running kernel says, for [`crate::Object::kconfig_data`].
#[derive(Debug, Clone, Default)]
pub struct KconfigEnv {
    /// Parsed kernel configuration ([`parse_kconfig`]).
    pub config: HashMap<String, KconfigValue>,
    /// Value of `LINUX_KERNEL_VERSION` ([`kernel_version_code`]).
    pub kernel_version: u32,
    /// Value of `LINUX_HAS_BPF_COOKIE` (a feature probe of the loader).
    pub has_bpf_cookie: bool,
    /// Value of `LINUX_HAS_SYSCALL_WRAPPER` (whether syscalls take a `struct pt_regs *`).
    pub has_syscall_wrapper: bool,
}

/// Builds the `.kconfig` map value for `externs` laid out in `size` bytes.
pub(crate) fn kconfig_bytes(externs: &[Extern], size: u32, env: &KconfigEnv) -> Result<Vec<u8>> {
    let mut out = vec![0u8; size as usize];
    for e in externs {
        let ExternKind::Kconfig { offset, size, ty } = &e.kind else {
            continue;
        };
        let bad = |detail: String| Error::BadExtern {
            name: e.name.clone(),
            detail,
        };
        let value = match e.name.as_str() {
            "LINUX_KERNEL_VERSION" => Some(KconfigValue::Num(i128::from(env.kernel_version))),
            "LINUX_HAS_BPF_COOKIE" => Some(bool_value(env.has_bpf_cookie)),
            "LINUX_HAS_SYSCALL_WRAPPER" => Some(bool_value(env.has_syscall_wrapper)),
            n if n.starts_with("LINUX_") => {
                return Err(bad("unknown LINUX_ virtual kconfig value; libbpf knows LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE and LINUX_HAS_SYSCALL_WRAPPER".into()))
            }
            n => env.config.get(n).cloned(),
        };
        let Some(value) = value else {
            if e.weak {
                continue;
            }
            return Err(bad(
                "not set in the kernel config; declare it __weak to default it to 0".into(),
            ));
        };
        let start = *offset as usize;
        let slot = start
            .checked_add(*size as usize)
            .and_then(|end| out.get_mut(start..end))
            .ok_or_else(|| bad("offset is outside the .kconfig map".into()))?;
        encode_kconfig(&value, *ty, slot).map_err(bad)?;
    }
    Ok(out)
}

fn bool_value(b: bool) -> KconfigValue {
    if b {
        KconfigValue::Yes
    } else {
        KconfigValue::No
    }
}

fn encode_kconfig(
    value: &KconfigValue,
    ty: KconfigType,
    slot: &mut [u8],
) -> std::result::Result<(), String> {
    use KconfigValue as V;
    let tri = |v: &V| match v {
        V::Yes => Some(1u8),
        V::No => Some(0),
        V::Module => Some(2),
        _ => None,
    };
    match (ty, value) {
        (KconfigType::Bool, V::Module) => {
            return Err(
                "value m (module) for a bool extern; declare it enum libbpf_tristate or char"
                    .into(),
            )
        }
        (KconfigType::Bool, V::Num(n)) if *n == 0 || *n == 1 => slot[0] = *n as u8,
        (KconfigType::Bool | KconfigType::Tristate, v) if tri(v).is_some() => {
            slot[0] = tri(v).unwrap_or(0);
        }
        (KconfigType::Char, V::Yes) => slot[0] = b'y',
        (KconfigType::Char, V::No) => slot[0] = b'n',
        (KconfigType::Char, V::Module) => slot[0] = b'm',
        (KconfigType::CharArray { len }, V::Str(s)) => {
            let n = s.len().min(len.saturating_sub(1) as usize);
            slot[..n].copy_from_slice(&s.as_bytes()[..n]);
        }
        (KconfigType::Int { size, signed }, V::Num(n)) => {
            let bits = size * 8;
            let fits = if signed {
                let lim = 1i128 << (bits - 1);
                (-lim..lim).contains(n)
            } else {
                *n >= 0 && *n < (1i128 << bits)
            };
            if !fits {
                return Err(format!(
                    "value {n} does not fit a {}{bits}-bit integer",
                    if signed { "signed " } else { "" }
                ));
            }
            let bytes = (*n as i64).to_le_bytes();
            slot.copy_from_slice(&bytes[..size as usize]);
        }
        (ty, v) => {
            return Err(format!(
                "value {v:?} does not suit an extern of type {ty:?}"
            ))
        }
    }
    Ok(())
}

/// Reads the externs: undefined symbols, typed by the `.kconfig` and `.ksyms` DATASECs.
/// Kconfig externs get offsets in the `.kconfig` map, in DATASEC order, naturally aligned.
pub(crate) fn collect_externs(ctx: &Ctx) -> Result<Vec<Extern>> {
    let undefined: Vec<_> = ctx
        .syms
        .iter()
        .filter(|s| {
            s.shndx == elf::SHN_UNDEF
                && !s.name.is_empty()
                && (s.bind == elf::STB_GLOBAL || s.bind == elf::STB_WEAK)
        })
        .collect();
    if undefined.is_empty() {
        return Ok(Vec::new());
    }
    let Some(btf) = ctx.btf.as_ref() else {
        return Err(Error::BadExtern {
            name: undefined[0].name.clone(),
            detail: "externs need the object's .BTF to be typed; compile with `clang -g`".into(),
        });
    };
    let btf_err = |name: &str, e: bpfkit_btf::Error| Error::BadExtern {
        name: name.to_string(),
        detail: format!("BTF: {e}"),
    };
    let entries = |sec: &str| -> Vec<u32> {
        btf.find_by_name_kind(sec, Kind::Datasec)
            .and_then(|id| btf.type_by_id(id).ok())
            .map(|t| match t.detail {
                Detail::Datasec { vars, .. } => vars.iter().map(|v| v.type_id).collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default()
    };
    let kconfig_ids = entries(".kconfig");
    let ksym_ids = entries(".ksyms");
    let find = |ids: &[u32], name: &str| {
        ids.iter()
            .copied()
            .find(|&id| btf.name_of(id).is_ok_and(|n| n == name))
    };

    let mut out = Vec::new();
    let mut kconfig_off = 0u32;
    // Kconfig entries in DATASEC order keep the layout stable for a skeleton.
    let mut ordered: Vec<(usize, &crate::object::SymInfo)> = undefined
        .iter()
        .map(|s| {
            (
                find(&kconfig_ids, &s.name)
                    .and_then(|id| kconfig_ids.iter().position(|&k| k == id))
                    .unwrap_or(usize::MAX),
                *s,
            )
        })
        .collect();
    ordered.sort_by_key(|(pos, _)| *pos);
    for (_, s) in ordered {
        let weak = s.bind == elf::STB_WEAK;
        if let Some(id) = find(&kconfig_ids, &s.name) {
            let t = btf.type_by_id(id).map_err(|e| btf_err(&s.name, e))?;
            let Detail::Var { type_id, .. } = t.detail else {
                return Err(Error::BadExtern {
                    name: s.name.clone(),
                    detail: "a .kconfig extern must be a variable".into(),
                });
            };
            let ty = kconfig_type(btf, type_id).map_err(|detail| Error::BadExtern {
                name: s.name.clone(),
                detail,
            })?;
            let align = ty.align().max(1);
            let offset = kconfig_off.div_ceil(align).saturating_mul(align);
            kconfig_off = offset.saturating_add(ty.size());
            out.push(Extern {
                name: s.name.clone(),
                weak,
                btf_id: id,
                kind: ExternKind::Kconfig {
                    offset,
                    size: ty.size(),
                    ty,
                },
            });
        } else if let Some(id) = find(&ksym_ids, &s.name) {
            let t = btf.type_by_id(id).map_err(|e| btf_err(&s.name, e))?;
            let kind = match t.detail {
                Detail::Func { proto, .. } => ExternKind::Kfunc { proto_id: proto },
                Detail::Var { type_id, .. } => {
                    let base = btf
                        .skip_modifiers(type_id)
                        .map_err(|e| btf_err(&s.name, e))?;
                    ExternKind::Ksym {
                        type_id: (base != 0).then_some(type_id),
                    }
                }
                _ => {
                    return Err(Error::BadExtern {
                        name: s.name.clone(),
                        detail: "a .ksyms entry must be a variable or a function".into(),
                    })
                }
            };
            out.push(Extern {
                name: s.name.clone(),
                weak,
                btf_id: id,
                kind,
            });
        } else if s.name.starts_with("CONFIG_") || s.name.starts_with("LINUX_") {
            return Err(Error::BadExtern {
                name: s.name.clone(),
                detail: "undefined, and BTF lists it in no .kconfig DATASEC; declare it `extern ... __kconfig`".into(),
            });
        }
        // Other undefined symbols are rejected when a relocation uses them, naming the site.
    }
    Ok(out)
}

fn kconfig_type(btf: &Btf, type_id: u32) -> std::result::Result<KconfigType, String> {
    let id = btf.resolve_type(type_id).map_err(|e| e.to_string())?;
    let t = btf.type_by_id(id).map_err(|e| e.to_string())?;
    match &t.detail {
        Detail::Int(i) if i.encoding & INT_BOOL != 0 => Ok(KconfigType::Bool),
        Detail::Int(i) if i.size == 1 && (i.encoding & INT_CHAR != 0 || t.name == "char") => Ok(KconfigType::Char),
        Detail::Int(i) if matches!(i.size, 1 | 2 | 4 | 8) => {
            Ok(KconfigType::Int { size: i.size, signed: i.encoding & INT_SIGNED != 0 })
        }
        Detail::Enum(_) if t.name == "libbpf_tristate" => Ok(KconfigType::Tristate),
        Detail::Enum(e) if matches!(e.size, 1 | 2 | 4 | 8) => Ok(KconfigType::Int { size: e.size, signed: e.signed }),
        Detail::Array(a) => {
            let elem = btf.resolve_type(a.elem_type).map_err(|e| e.to_string())?;
            match btf.type_by_id(elem).map_err(|e| e.to_string())?.detail {
                // Config strings are short; a huge array is a corrupt object, not a real extern.
                Detail::Int(i) if i.size == 1 && a.nelems <= 4096 => Ok(KconfigType::CharArray { len: a.nelems }),
                _ => Err("a .kconfig array must be an array of at most 4096 char".into()),
            }
        }
        _ => Err(format!("type {} cannot hold a kconfig value (use bool, char, an integer, enum libbpf_tristate or char[N])", t.kind.as_str())),
    }
}

/// Size of the `.kconfig` map, if the object has kconfig externs.
pub(crate) fn kconfig_size(externs: &[Extern]) -> Option<u32> {
    externs
        .iter()
        .filter_map(|e| match e.kind {
            ExternKind::Kconfig { offset, size, .. } => Some(offset.saturating_add(size)),
            _ => None,
        })
        .max()
        .map(|end| end.div_ceil(8).saturating_mul(8))
}

/// The `.kconfig` externs as data variables of the `.kconfig` map.
pub(crate) fn kconfig_vars(externs: &[Extern]) -> Vec<DataVar> {
    externs
        .iter()
        .filter_map(|e| match e.kind {
            ExternKind::Kconfig { offset, size, .. } => Some(DataVar {
                name: e.name.clone(),
                offset: u64::from(offset),
                size: u64::from(size),
                global: true,
                btf_var_id: Some(e.btf_id),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kconfig_text() {
        let text = "#\n# Automatically generated\nCONFIG_HZ=250\nCONFIG_BPF=y\nCONFIG_X=m\n# CONFIG_KPROBES is not set\nCONFIG_LOCALVERSION=\"-bpf \\\"x\\\"\"\nCONFIG_MASK=0x1f\nCONFIG_NEG=-3\n\n";
        let c = parse_kconfig(text).unwrap();
        assert_eq!(c["CONFIG_HZ"], KconfigValue::Num(250));
        assert_eq!(c["CONFIG_BPF"], KconfigValue::Yes);
        assert_eq!(c["CONFIG_X"], KconfigValue::Module);
        assert_eq!(c["CONFIG_KPROBES"], KconfigValue::No);
        assert_eq!(
            c["CONFIG_LOCALVERSION"],
            KconfigValue::Str("-bpf \"x\"".into())
        );
        assert_eq!(c["CONFIG_MASK"], KconfigValue::Num(31));
        assert_eq!(c["CONFIG_NEG"], KconfigValue::Num(-3));
        assert_eq!(c.len(), 7);
        let e = parse_kconfig("CONFIG_A=y\nCONFIG_B=what\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_kconfig("HZ=1").is_err());
        assert!(parse_kconfig("CONFIG_S=\"open").is_err());
    }

    #[test]
    fn version_codes() {
        assert_eq!(kernel_version_code(6, 18, 0), 0x061200);
        assert_eq!(kernel_version_code(4, 19, 300), (4 << 16) | (19 << 8) | 255);
        assert_eq!(parse_kernel_release("6.18.0-1-amd64"), Some(0x061200));
        assert_eq!(parse_kernel_release("5.10"), Some(0x050a00));
        assert_eq!(parse_kernel_release("x"), None);
    }

    #[test]
    fn encodes_values_by_type() {
        let mut b = [0u8; 4];
        encode_kconfig(&KconfigValue::Module, KconfigType::Tristate, &mut b).unwrap();
        assert_eq!(b, [2, 0, 0, 0]);
        assert!(encode_kconfig(&KconfigValue::Module, KconfigType::Bool, &mut b[..1]).is_err());
        let mut c = [0u8; 1];
        encode_kconfig(&KconfigValue::Yes, KconfigType::Char, &mut c).unwrap();
        assert_eq!(c, [b'y']);
        let mut s = [0xffu8; 4];
        s.fill(0);
        encode_kconfig(
            &KconfigValue::Str("abcdef".into()),
            KconfigType::CharArray { len: 4 },
            &mut s,
        )
        .unwrap();
        assert_eq!(&s, b"abc\0");
        let mut i = [0u8; 2];
        assert!(encode_kconfig(
            &KconfigValue::Num(70000),
            KconfigType::Int {
                size: 2,
                signed: false
            },
            &mut i
        )
        .is_err());
        encode_kconfig(
            &KconfigValue::Num(-2),
            KconfigType::Int {
                size: 2,
                signed: true,
            },
            &mut i,
        )
        .unwrap();
        assert_eq!(i16::from_le_bytes(i), -2);
        assert!(encode_kconfig(
            &KconfigValue::Str("x".into()),
            KconfigType::Int {
                size: 4,
                signed: true
            },
            &mut b
        )
        .is_err());
    }
}
