//! Map keys and values read through BTF, as bpftool's `formatted` JSON (and, with plain-text
//! numbers, its text `map dump` of BTF maps): integers by size and sign, enums by name, char
//! arrays holding a string as that string, bitfields and 128-bit integers as hex, pointers as
//! numbers (JSON) or `0x…` (text), data sections as `{".data": [{"var": …}]}`.

use bpfkit_btf::{Btf, Detail, Kind, INT_BOOL, INT_CHAR, INT_SIGNED};

use crate::output::J;

/// Formats `data` as type `id`. `text` selects bpftool's plain-text flavour, where hex numbers
/// and pointers are bare words rather than strings.
pub fn format(btf: &Btf, id: u32, data: &[u8], text: bool) -> J {
    Dumper {
        btf,
        text,
        prog_ids: None,
    }
    .value(id, data, 0)
}

/// Formats the value of a struct_ops map (the kernel's `bpf_struct_ops_*` type), whose
/// function pointers hold the ids of the programs that implement them: each one prints as its
/// prototype followed by `NAME/prog_id:ID`, or by `0` when unset, as bpftool prints them;
/// `prog_name` gives a program's name from its id; `text` as for [`format`].
pub fn format_struct_ops(
    btf: &Btf,
    id: u32,
    data: &[u8],
    text: bool,
    prog_name: &dyn Fn(u32) -> String,
) -> J {
    Dumper {
        btf,
        text,
        prog_ids: Some(prog_name),
    }
    .value(id, data, 0)
}

struct Dumper<'a> {
    btf: &'a Btf,
    text: bool,
    /// Set for struct_ops values: function pointers are program ids, named by this.
    prog_ids: Option<&'a dyn Fn(u32) -> String>,
}

fn le_bits(data: &[u8], bit_off: u32, bits: u32) -> u128 {
    let mut v: u128 = 0;
    for i in 0..bits {
        let b = bit_off + i;
        let byte = data.get((b / 8) as usize).copied().unwrap_or(0);
        if byte >> (b % 8) & 1 == 1 {
            v |= 1u128 << i;
        }
    }
    v
}

fn le_uint(data: &[u8], size: usize) -> u128 {
    let mut v: u128 = 0;
    for i in (0..size.min(16)).rev() {
        v = (v << 8) | u128::from(data.get(i).copied().unwrap_or(0));
    }
    v
}

impl Dumper<'_> {
    fn hex(&self, v: u128) -> J {
        let s = format!("{v:#x}");
        if self.text {
            J::Num(s)
        } else {
            J::Str(s)
        }
    }

    fn value(&self, id: u32, data: &[u8], depth: usize) -> J {
        if depth > 64 {
            return J::Null;
        }
        let Ok(t) = self.btf.type_by_id(id) else {
            return J::Null;
        };
        match &t.detail {
            Detail::Void => J::Null,
            Detail::Int(i) => {
                let size = i.size as usize;
                let bits = u32::from(i.bits);
                if size > 8 || bits != i.size * 8 || i.offset != 0 {
                    return self.hex(le_bits(data, u32::from(i.offset), bits));
                }
                let raw = le_uint(data, size);
                if i.encoding & INT_BOOL != 0 {
                    return J::Bool(raw != 0);
                }
                if i.encoding & INT_CHAR != 0 {
                    let c = raw as u8;
                    if c.is_ascii_graphic() || c == b' ' {
                        return J::Str((c as char).to_string());
                    }
                    return J::U(u64::from(c));
                }
                if i.encoding & INT_SIGNED != 0 {
                    let shift = 128 - bits;
                    J::I((((raw << shift) as i128) >> shift) as i64)
                } else {
                    J::U(raw as u64)
                }
            }
            Detail::Ptr { type_id } => {
                let v = le_uint(data, 8) as u64;
                if let Some(proto) = self.func_proto(*type_id) {
                    if let Some(name_of) = self.prog_ids {
                        let target = match u32::try_from(v) {
                            Ok(0) | Err(_) => "0".to_string(),
                            Ok(id) => format!("{}/prog_id:{id}", name_of(id)),
                        };
                        return J::Str(format!("{proto} {target}"));
                    }
                }
                if self.text {
                    J::Num(if v == 0 {
                        "(nil)".into()
                    } else {
                        format!("{v:#x}")
                    })
                } else {
                    J::U(v)
                }
            }
            Detail::Array(a) => {
                let esize = self.btf.type_size(a.elem_type).unwrap_or(0) as usize;
                if let Some(s) = self.char_string(a.elem_type, data, a.nelems as usize) {
                    return J::Str(s);
                }
                let mut items = Vec::new();
                for n in 0..a.nelems as usize {
                    let start = n * esize;
                    let part = data.get(start..).unwrap_or(&[]);
                    items.push(self.value(a.elem_type, part, depth + 1));
                }
                J::Arr(items)
            }
            Detail::Composite { members, .. } => {
                let mut o = J::obj();
                for m in members {
                    let v = if m.bitfield_size != 0 {
                        self.hex(le_bits(data, m.bit_offset, u32::from(m.bitfield_size)))
                    } else {
                        let start = (m.bit_offset / 8) as usize;
                        let part = data.get(start..).unwrap_or(&[]);
                        self.member(m.type_id, part, m.bit_offset % 8, depth)
                    };
                    o.push(m.name, v);
                }
                o
            }
            Detail::Enum(e) => {
                let raw = le_uint(data, e.size as usize) as u64;
                let mask = if e.size >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (e.size * 8)) - 1
                };
                for v in &e.values {
                    if v.value & mask == raw {
                        return J::s(v.name);
                    }
                }
                if e.signed {
                    let shift = 64 - e.size * 8;
                    J::I(((raw << shift) as i64) >> shift)
                } else {
                    J::U(raw)
                }
            }
            Detail::Fwd { .. } | Detail::FuncProto(_) | Detail::Func { .. } => J::Null,
            Detail::Ref { type_id }
            | Detail::TypeTag { type_id }
            | Detail::DeclTag { type_id, .. } => self.value(*type_id, data, depth + 1),
            Detail::Var { type_id, .. } => {
                let mut o = J::obj();
                o.push(t.name, self.value(*type_id, data, depth + 1));
                o
            }
            Detail::Datasec { vars, .. } => {
                let mut items = Vec::new();
                for v in vars {
                    let part = data.get(v.offset as usize..).unwrap_or(&[]);
                    items.push(self.value(v.type_id, part, depth + 1));
                }
                let mut o = J::obj();
                o.push(t.name, J::Arr(items));
                o
            }
            Detail::Float { size } => {
                let raw = le_uint(data, *size as usize);
                let f = match size {
                    4 => f64::from(f32::from_bits(raw as u32)),
                    8 => f64::from_bits(raw as u64),
                    _ => return self.hex(raw),
                };
                J::Num(format!("{f:.6}"))
            }
        }
    }

    /// The C prototype of `id` when it names a function prototype: `u32 (struct sock *)`.
    fn func_proto(&self, id: u32) -> Option<String> {
        let id = self.btf.skip_modifiers(id).ok()?;
        let Detail::FuncProto(p) = &self.btf.type_by_id(id).ok()?.detail else {
            return None;
        };
        let params: Vec<String> = p
            .params
            .iter()
            .map(|a| {
                if a.type_id == 0 {
                    "...".to_string()
                } else {
                    crate::btf::type_name(self.btf, a.type_id)
                }
            })
            .collect();
        Some(format!(
            "{} ({})",
            crate::btf::type_name(self.btf, p.ret_type),
            params.join(", ")
        ))
    }

    /// A non-bitfield member whose storage does not start on a byte (possible for ints
    /// with an offset): read through the bit offset.
    fn member(&self, id: u32, data: &[u8], bit_rem: u32, depth: usize) -> J {
        if bit_rem == 0 {
            return self.value(id, data, depth + 1);
        }
        let bits = self.btf.type_size(id).unwrap_or(0) as u32 * 8;
        self.hex(le_bits(data, bit_rem, bits))
    }

    /// bpftool prints a `char` array as a string when it holds printable text ended by NUL.
    fn char_string(&self, elem: u32, data: &[u8], n: usize) -> Option<String> {
        let e = self.btf.skip_modifiers(elem).ok()?;
        let t = self.btf.type_by_id(e).ok()?;
        let Detail::Int(i) = t.detail else {
            return None;
        };
        if i.size != 1 || t.kind != Kind::Int || !(t.name == "char" || i.encoding & INT_CHAR != 0) {
            return None;
        }
        let bytes = data.get(..n)?;
        let end = bytes.iter().position(|&b| b == 0)?;
        let s = &bytes[..end];
        if s.iter().all(|&b| b.is_ascii_graphic() || b == b' ') {
            Some(String::from_utf8_lossy(s).into_owned())
        } else {
            None
        }
    }
}
