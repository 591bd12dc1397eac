//! `.BTF.ext`: func_info, line_info and CO-RE relocation records, grouped by ELF section.

use crate::btf::{u32_at, Btf, BTF_MAGIC};
use crate::error::{Error, Result};

/// One `bpf_func_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the function's first instruction in its section (as in the object file).
    pub insn_off: u32,
    /// The FUNC type id.
    pub type_id: u32,
}

/// One `bpf_line_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset of the instruction in its section.
    pub insn_off: u32,
    /// String offset of the source file name.
    pub file_name_off: u32,
    /// String offset of the source line text.
    pub line_off: u32,
    /// Line number.
    pub line: u32,
    /// Column.
    pub column: u32,
}

impl LineInfo {
    /// The packed `line_col` word (`line << 10 | column`).
    pub fn line_col(&self) -> u32 {
        (self.line << 10) | (self.column & 0x3ff)
    }

    /// The source file name.
    pub fn file_name<'a>(&self, btf: &'a Btf) -> Result<&'a str> {
        btf.str_at(self.file_name_off)
    }

    /// The source line text.
    pub fn source<'a>(&self, btf: &'a Btf) -> Result<&'a str> {
        btf.str_at(self.line_off)
    }
}

/// One `bpf_core_relo` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction in its section.
    pub insn_off: u32,
    /// Local type id the access starts from.
    pub type_id: u32,
    /// String offset of the access string.
    pub access_str_off: u32,
    /// The access string, such as `0:1:0`.
    pub access: String,
    /// `bpf_core_relo_kind` value (`BPF_CORE_*`).
    pub kind: u32,
}

/// The records of one ELF section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtSection<T> {
    /// ELF section name (`tracepoint/syscalls/sys_enter_execve`, `.text`…).
    pub name: String,
    /// String offset of the name.
    pub name_off: u32,
    /// Records in file order.
    pub records: Vec<T>,
}

/// Parsed `.BTF.ext`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// func_info per section.
    pub func_info: Vec<ExtSection<FuncInfo>>,
    /// line_info per section.
    pub line_info: Vec<ExtSection<LineInfo>>,
    /// CO-RE relocations per section.
    pub core_relos: Vec<ExtSection<CoreRelo>>,
    /// Record size of func_info in the file (≥ 8).
    pub func_info_rec_size: u32,
    /// Record size of line_info in the file (≥ 16).
    pub line_info_rec_size: u32,
    /// Record size of core_relo in the file (≥ 16), 0 when absent.
    pub core_relo_rec_size: u32,
}

impl BtfExt {
    /// Parses `.BTF.ext` bytes; names and strings are resolved (and checked) in `btf`, the
    /// object's `.BTF`.
    pub fn parse(bytes: &[u8], btf: &Btf) -> Result<BtfExt> {
        let bad = |detail: String| Error::BadHeader {
            what: "BTF.ext",
            detail,
        };
        if bytes.len() < 8 {
            return Err(Error::Truncated {
                what: "BTF.ext header",
                offset: 0,
                needed: 8 - bytes.len(),
            });
        }
        let magic = u16::from_le_bytes([bytes[0], bytes[1]]);
        if magic != BTF_MAGIC {
            return Err(Error::BadMagic {
                what: "BTF.ext",
                found: magic,
            });
        }
        if bytes[2] != 1 {
            return Err(bad(format!(
                "version {} is not supported (only 1)",
                bytes[2]
            )));
        }
        let w = |i: usize| u32_at(bytes, i).unwrap_or(0);
        let hdr_len = w(4) as usize;
        if hdr_len < 24 || hdr_len > bytes.len() {
            return Err(bad(format!(
                "header length {hdr_len} (data is {} bytes, minimum 24)",
                bytes.len()
            )));
        }
        let section = |off: u32, len: u32, name: &str| -> Result<&[u8]> {
            let s = hdr_len.checked_add(off as usize);
            let e = s.and_then(|s| s.checked_add(len as usize));
            match (s, e) {
                (Some(s), Some(e)) if e <= bytes.len() => Ok(&bytes[s..e]),
                _ => Err(bad(format!(
                    "{name} (offset {off}, length {len}) ends past the data"
                ))),
            }
        };
        let mut ext = BtfExt::default();
        let func = section(w(8), w(12), "func_info")?;
        let (size, secs) = parse_sections(func, "func", 8, btf, |r| {
            Ok(FuncInfo {
                insn_off: u32_at(r, 0).unwrap_or(0),
                type_id: u32_at(r, 4).unwrap_or(0),
            })
        })?;
        ext.func_info_rec_size = size;
        ext.func_info = secs;
        let line = section(w(16), w(20), "line_info")?;
        let (size, secs) = parse_sections(line, "line", 16, btf, |r| {
            let li = LineInfo {
                insn_off: u32_at(r, 0).unwrap_or(0),
                file_name_off: u32_at(r, 4).unwrap_or(0),
                line_off: u32_at(r, 8).unwrap_or(0),
                line: u32_at(r, 12).unwrap_or(0) >> 10,
                column: u32_at(r, 12).unwrap_or(0) & 0x3ff,
            };
            btf.str_at(li.file_name_off)?;
            btf.str_at(li.line_off)?;
            Ok(li)
        })?;
        ext.line_info_rec_size = size;
        ext.line_info = secs;
        if hdr_len >= 32 {
            let core = section(w(24), w(28), "core_relo")?;
            let (size, secs) = parse_sections(core, "core_relo", 16, btf, |r| {
                let off = u32_at(r, 8).unwrap_or(0);
                Ok(CoreRelo {
                    insn_off: u32_at(r, 0).unwrap_or(0),
                    type_id: u32_at(r, 4).unwrap_or(0),
                    access_str_off: off,
                    access: btf.str_at(off)?.to_string(),
                    kind: u32_at(r, 12).unwrap_or(0),
                })
            })?;
            ext.core_relo_rec_size = size;
            ext.core_relos = secs;
        }
        Ok(ext)
    }

    /// func_info of section `name`.
    pub fn func_info_of(&self, name: &str) -> &[FuncInfo] {
        self.func_info
            .iter()
            .find(|s| s.name == name)
            .map_or(&[], |s| &s.records)
    }

    /// line_info of section `name`.
    pub fn line_info_of(&self, name: &str) -> &[LineInfo] {
        self.line_info
            .iter()
            .find(|s| s.name == name)
            .map_or(&[], |s| &s.records)
    }

    /// CO-RE relocations of section `name`.
    pub fn core_relos_of(&self, name: &str) -> &[CoreRelo] {
        self.core_relos
            .iter()
            .find(|s| s.name == name)
            .map_or(&[], |s| &s.records)
    }
}

fn parse_sections<T>(
    data: &[u8],
    what: &'static str,
    min_rec: u32,
    btf: &Btf,
    mut rec: impl FnMut(&[u8]) -> Result<T>,
) -> Result<(u32, Vec<ExtSection<T>>)> {
    let bad = |detail: String| Error::BadExt {
        section: what,
        detail,
    };
    if data.is_empty() {
        return Ok((0, Vec::new()));
    }
    let rec_size =
        u32_at(data, 0).ok_or_else(|| bad("shorter than its record size word".into()))?;
    if rec_size < min_rec || rec_size % 4 != 0 {
        return Err(bad(format!(
            "record size {rec_size} (minimum {min_rec}, multiple of 4)"
        )));
    }
    let mut out = Vec::new();
    let mut off = 4usize;
    while off < data.len() {
        let (Some(name_off), Some(n)) = (u32_at(data, off), u32_at(data, off + 4)) else {
            return Err(bad(format!("section header at byte {off} is truncated")));
        };
        let name = btf.str_at(name_off)?.to_string();
        if n == 0 {
            return Err(bad(format!("section {name:?} has no records")));
        }
        off += 8;
        let total = (n as usize)
            .checked_mul(rec_size as usize)
            .filter(|t| off.checked_add(*t).is_some_and(|end| end <= data.len()))
            .ok_or_else(|| {
                bad(format!(
                    "section {name:?} claims {n} records of {rec_size} bytes, past the end"
                ))
            })?;
        let mut records = Vec::with_capacity(n as usize);
        for r in data[off..off + total].chunks_exact(rec_size as usize) {
            records.push(rec(r)?);
        }
        off += total;
        out.push(ExtSection {
            name,
            name_off,
            records,
        });
    }
    Ok((rec_size, out))
}
