//! `format raw`: the text (and JSON) listing of every type that `bpftool btf dump … format raw`
//! prints, byte for byte.

use std::io::Write;

use crate::btf::Btf;
use crate::error::Result;
use crate::types::*;

fn anon(s: &str) -> &str {
    if s.is_empty() {
        "(anon)"
    } else {
        s
    }
}

fn int_encoding(enc: u8) -> &'static str {
    match enc {
        0 => "(none)",
        INT_SIGNED => "SIGNED",
        INT_CHAR => "CHAR",
        INT_BOOL => "BOOL",
        _ => "UNKN",
    }
}

fn func_linkage(l: FuncLinkage) -> &'static str {
    match l {
        FuncLinkage::Static => "static",
        FuncLinkage::Global => "global",
        FuncLinkage::Extern => "extern",
        FuncLinkage::Unknown(_) => "(unknown)",
    }
}

fn var_linkage(l: VarLinkage) -> &'static str {
    match l {
        VarLinkage::Static => "static",
        VarLinkage::Global => "global",
        VarLinkage::Extern => "extern",
        VarLinkage::Unknown(_) => "(unknown)",
    }
}

/// Writes `s` as a JSON string the way bpftool's JSON writer escapes it.
fn json_str(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    out.write_all(b"\"")?;
    for c in s.chars() {
        match c {
            '"' => out.write_all(b"\\\"")?,
            '\\' => out.write_all(b"\\\\")?,
            '\n' => out.write_all(b"\\n")?,
            '\t' => out.write_all(b"\\t")?,
            '\r' => out.write_all(b"\\r")?,
            '\u{8}' => out.write_all(b"\\b")?,
            '\u{c}' => out.write_all(b"\\f")?,
            c => write!(out, "{c}")?,
        }
    }
    out.write_all(b"\"")
}

impl Btf {
    /// Writes one type in bpftool's raw text form (`[id] KIND 'name' …`, then one tab-indented
    /// line per member, value, parameter or variable), without the final newline.
    pub fn write_raw_type(&self, out: &mut impl Write, id: u32) -> Result<()> {
        let t = self.type_by_id(id)?;
        write!(out, "[{}] {} '{}'", id, t.kind.as_str(), anon(t.name))?;
        match &t.detail {
            Detail::Void => {}
            Detail::Int(i) => write!(
                out,
                " size={} bits_offset={} nr_bits={} encoding={}",
                i.size,
                i.offset,
                i.bits,
                int_encoding(i.encoding)
            )?,
            Detail::Ptr { type_id } | Detail::Ref { type_id } | Detail::TypeTag { type_id } => {
                write!(out, " type_id={type_id}")?
            }
            Detail::Array(a) => write!(
                out,
                " type_id={} index_type_id={} nr_elems={}",
                a.elem_type, a.index_type, a.nelems
            )?,
            Detail::Composite { size, members } => {
                write!(out, " size={} vlen={}", size, t.vlen)?;
                for m in members {
                    write!(
                        out,
                        "\n\t'{}' type_id={} bits_offset={}",
                        anon(m.name),
                        m.type_id,
                        m.bit_offset
                    )?;
                    if m.bitfield_size != 0 {
                        write!(out, " bitfield_size={}", m.bitfield_size)?;
                    }
                }
            }
            Detail::Enum(e) => {
                let enc = if e.signed { "SIGNED" } else { "UNSIGNED" };
                write!(out, " encoding={} size={} vlen={}", enc, e.size, t.vlen)?;
                for v in &e.values {
                    let name = anon(v.name);
                    match (e.is64, e.signed) {
                        (false, true) => write!(out, "\n\t'{}' val={}", name, v.value as i64)?,
                        (false, false) => write!(out, "\n\t'{}' val={}", name, v.value as u32)?,
                        (true, true) => write!(out, "\n\t'{}' val={}LL", name, v.value as i64)?,
                        (true, false) => write!(out, "\n\t'{}' val={}ULL", name, v.value)?,
                    }
                }
            }
            Detail::Fwd { is_union } => write!(
                out,
                " fwd_kind={}",
                if *is_union { "union" } else { "struct" }
            )?,
            Detail::Func { proto, linkage } => {
                write!(out, " type_id={} linkage={}", proto, func_linkage(*linkage))?
            }
            Detail::FuncProto(p) => {
                write!(out, " ret_type_id={} vlen={}", p.ret_type, t.vlen)?;
                for a in &p.params {
                    write!(out, "\n\t'{}' type_id={}", anon(a.name), a.type_id)?;
                }
            }
            Detail::Var { type_id, linkage } => write!(
                out,
                " type_id={}, linkage={}",
                type_id,
                var_linkage(*linkage)
            )?,
            Detail::Datasec { size, vars } => {
                write!(out, " size={} vlen={}", size, t.vlen)?;
                for v in vars {
                    write!(
                        out,
                        "\n\ttype_id={} offset={} size={}",
                        v.type_id, v.offset, v.size
                    )?;
                    if v.type_id <= self.len() {
                        let k = self.kind_of(v.type_id)?;
                        let n = self.name_of(v.type_id)?;
                        write!(out, " ({} '{}')", k.as_str(), anon(n))?;
                    }
                }
            }
            Detail::Float { size } => write!(out, " size={size}")?,
            Detail::DeclTag {
                type_id,
                component_idx,
            } => write!(out, " type_id={type_id} component_idx={component_idx}")?,
        }
        Ok(())
    }

    /// Writes this object's types (not a base's) as `bpftool btf dump … format raw` does.
    pub fn dump_raw(&self, out: &mut impl Write) -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
        for id in self.start_id()..=self.len() {
            self.write_raw_type(&mut w, id)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        Ok(())
    }

    /// Writes one type as bpftool's `-j` raw dump object (`{"id":…,"kind":…,…}`).
    pub fn write_raw_type_json(&self, out: &mut impl Write, id: u32) -> Result<()> {
        let t = self.type_by_id(id)?;
        write!(
            out,
            "{{\"id\":{},\"kind\":\"{}\",\"name\":",
            id,
            t.kind.as_str()
        )?;
        json_str(out, anon(t.name))?;
        match &t.detail {
            Detail::Void => {}
            Detail::Int(i) => write!(
                out,
                ",\"size\":{},\"bits_offset\":{},\"nr_bits\":{},\"encoding\":\"{}\"",
                i.size,
                i.offset,
                i.bits,
                int_encoding(i.encoding)
            )?,
            Detail::Ptr { type_id } | Detail::Ref { type_id } | Detail::TypeTag { type_id } => {
                write!(out, ",\"type_id\":{type_id}")?
            }
            Detail::Array(a) => write!(
                out,
                ",\"type_id\":{},\"index_type_id\":{},\"nr_elems\":{}",
                a.elem_type, a.index_type, a.nelems
            )?,
            Detail::Composite { size, members } => {
                write!(out, ",\"size\":{},\"vlen\":{},\"members\":[", size, t.vlen)?;
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(b"{\"name\":")?;
                    json_str(out, anon(m.name))?;
                    write!(
                        out,
                        ",\"type_id\":{},\"bits_offset\":{}",
                        m.type_id, m.bit_offset
                    )?;
                    if m.bitfield_size != 0 {
                        write!(out, ",\"bitfield_size\":{}", m.bitfield_size)?;
                    }
                    out.write_all(b"}")?;
                }
                out.write_all(b"]")?;
            }
            Detail::Enum(e) => {
                let enc = if e.signed { "SIGNED" } else { "UNSIGNED" };
                write!(
                    out,
                    ",\"encoding\":\"{}\",\"size\":{},\"vlen\":{},\"values\":[",
                    enc, e.size, t.vlen
                )?;
                for (i, v) in e.values.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(b"{\"name\":")?;
                    json_str(out, anon(v.name))?;
                    match (e.is64, e.signed) {
                        (_, true) => write!(out, ",\"val\":{}}}", v.value as i64)?,
                        // bpftool widens the record's signed 32-bit word to unsigned 64 bits.
                        (false, false) => {
                            write!(out, ",\"val\":{}}}", v.value as u32 as i32 as i64 as u64)?
                        }
                        (true, false) => write!(out, ",\"val\":{}}}", v.value)?,
                    }
                }
                out.write_all(b"]")?;
            }
            Detail::Fwd { is_union } => write!(
                out,
                ",\"fwd_kind\":\"{}\"",
                if *is_union { "union" } else { "struct" }
            )?,
            Detail::Func { proto, linkage } => write!(
                out,
                ",\"type_id\":{},\"linkage\":\"{}\"",
                proto,
                func_linkage(*linkage)
            )?,
            Detail::FuncProto(p) => {
                write!(
                    out,
                    ",\"ret_type_id\":{},\"vlen\":{},\"params\":[",
                    p.ret_type, t.vlen
                )?;
                for (i, a) in p.params.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(b"{\"name\":")?;
                    json_str(out, anon(a.name))?;
                    write!(out, ",\"type_id\":{}}}", a.type_id)?;
                }
                out.write_all(b"]")?;
            }
            Detail::Var { type_id, linkage } => write!(
                out,
                ",\"type_id\":{},\"linkage\":\"{}\"",
                type_id,
                var_linkage(*linkage)
            )?,
            Detail::Datasec { size, vars } => {
                write!(out, ",\"size\":{},\"vlen\":{},\"vars\":[", size, t.vlen)?;
                for (i, v) in vars.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    write!(
                        out,
                        "{{\"type_id\":{},\"offset\":{},\"size\":{}}}",
                        v.type_id, v.offset, v.size
                    )?;
                }
                out.write_all(b"]")?;
            }
            Detail::Float { size } => write!(out, ",\"size\":{size}")?,
            Detail::DeclTag {
                type_id,
                component_idx,
            } => write!(
                out,
                ",\"type_id\":{type_id},\"component_idx\":{component_idx}"
            )?,
        }
        out.write_all(b"}")?;
        Ok(())
    }

    /// Writes this object's types as `bpftool -j btf dump … format raw` does
    /// (`{"types":[…]}` and a newline).
    pub fn dump_raw_json(&self, out: &mut impl Write) -> Result<()> {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
        w.write_all(b"{\"types\":[")?;
        for id in self.start_id()..=self.len() {
            if id > self.start_id() {
                w.write_all(b",")?;
            }
            self.write_raw_type_json(&mut w, id)?;
        }
        w.write_all(b"]}\n")?;
        w.flush()?;
        Ok(())
    }
}
