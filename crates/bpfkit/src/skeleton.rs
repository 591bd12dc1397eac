//! Rust skeletons of BPF objects (`bpfkit gen skeleton`): [`generate`] turns an object file into
//! Rust source that embeds the object, has one typed accessor per map and program, the global
//! data sections as `#[repr(C)]` structs built from the object's BTF (padding fields make the
//! layout exact), and the open → load → attach phases on top of [`crate::ObjectBuilder`].
//!
//! Generated structs convert to and from bytes through [`Plain`], field by field, so neither
//! the skeleton nor its user needs anything but safe code.

use std::collections::BTreeMap;
use std::fmt::Write;

use bpfkit_btf::{Btf, Detail, Kind};
use bpfkit_elf::{DataKind, Object as ElfObject};

use crate::error::{Error, Result};

/// A plain-data value with a fixed little-endian-free (native) byte form, read and written
/// field by field. Implemented for integers, floats, arrays of `Plain`, and generated structs.
pub trait Plain: Sized {
    /// Size of the byte form.
    const SIZE: usize;
    /// Reads the value from `b`, which holds at least [`Plain::SIZE`] bytes.
    fn read(b: &[u8]) -> Self;
    /// Writes the value into `out`, which holds at least [`Plain::SIZE`] bytes.
    fn write(&self, out: &mut [u8]);

    /// Reads the value from exactly-sized (or longer) bytes; `None` when `b` is too short.
    fn from_bytes(b: &[u8]) -> Option<Self> {
        (b.len() >= Self::SIZE).then(|| Self::read(b))
    }

    /// The byte form.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = vec![0; Self::SIZE];
        self.write(&mut v);
        v
    }
}

macro_rules! plain_num {
    ($($t:ty),*) => {$(
        impl Plain for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn read(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::SIZE]);
                <$t>::from_ne_bytes(a)
            }
            fn write(&self, out: &mut [u8]) {
                out[..Self::SIZE].copy_from_slice(&self.to_ne_bytes());
            }
        }
    )*};
}
plain_num!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

impl<T: Plain, const N: usize> Plain for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn read(b: &[u8]) -> Self {
        std::array::from_fn(|i| T::read(&b[i * T::SIZE..]))
    }
    fn write(&self, out: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.write(&mut out[i * T::SIZE..]);
        }
    }
}

/// How the generated module gets the object bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Embed {
    /// `include_bytes!(PATH)`: PATH as written (relative paths resolve from the file that
    /// includes the skeleton, as `include_bytes!` does).
    IncludeBytes(String),
    /// `include_bytes!(env!(VAR))`: the path comes from an environment variable at build time.
    Env(String),
    /// The bytes inline, as a byte string.
    Inline,
}

/// Options of [`generate`].
#[derive(Debug, Clone)]
pub struct SkeletonOptions {
    /// Skeleton name (`execsnoop`): prefixes the type names (`ExecsnoopSkel`).
    pub name: String,
    /// How the object is embedded.
    pub embed: Embed,
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A Rust identifier for a C (or libbpf) name.
fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if KEYWORDS.contains(&s.as_str()) {
        if matches!(s.as_str(), "self" | "Self" | "super" | "crate") {
            s.push('_');
        } else {
            s.insert_str(0, "r#");
        }
    }
    s
}

fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            up = false;
        } else {
            up = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'X');
    }
    out
}

/// Generates Rust types for BTF types, collecting struct definitions.
struct TypeGen<'a> {
    btf: &'a Btf,
    defs: BTreeMap<String, String>,
    named: BTreeMap<u32, String>,
}

impl TypeGen<'_> {
    fn opaque(size: u64) -> String {
        format!("[u8; {size}]")
    }

    /// The Rust type of BTF type `id` and its alignment.
    fn rust_type(&mut self, id: u32, depth: u32) -> Result<(String, u64)> {
        let btf = self.btf;
        let id = btf.skip_modifiers(id)?;
        let size = btf.type_size(id).unwrap_or(0);
        if depth > 32 {
            return Ok((Self::opaque(size), 1));
        }
        let t = btf.type_by_id(id)?;
        Ok(match &t.detail {
            Detail::Int(i) => {
                let signed = i.is_signed();
                let bits = i.size * 8;
                match bits {
                    8 | 16 | 32 | 64 | 128 => (
                        format!("{}{bits}", if signed { "i" } else { "u" }),
                        u64::from(i.size.min(8)),
                    ),
                    _ => (Self::opaque(size), 1),
                }
            }
            Detail::Enum(e) => match e.size {
                1 | 2 | 4 | 8 => (
                    format!("{}{}", if e.signed { "i" } else { "u" }, e.size * 8),
                    u64::from(e.size),
                ),
                _ => (Self::opaque(size), 1),
            },
            Detail::Ref { type_id } | Detail::TypeTag { type_id } => {
                return self.rust_type(*type_id, depth + 1)
            }
            Detail::Float { size: 4 } => ("f32".into(), 4),
            Detail::Float { size: 8 } => ("f64".into(), 8),
            Detail::Ptr { .. } => ("u64".into(), 8),
            Detail::Array(a) => {
                let (elem, align) = self.rust_type(a.elem_type, depth + 1)?;
                (format!("[{elem}; {}]", a.nelems), align)
            }
            Detail::Composite { size, members } if t.kind == Kind::Struct => {
                if let Some(n) = self.named.get(&id).cloned() {
                    let align = self.align_of(id, depth)?;
                    return Ok((n, align));
                }
                let name = if t.name.is_empty() {
                    format!("Anon{id}")
                } else {
                    camel(t.name)
                };
                let mut fields = Vec::new();
                let mut ok = true;
                let mut align = 1;
                for m in members.clone() {
                    if m.bitfield_size != 0 || m.bit_offset % 8 != 0 || m.name.is_empty() {
                        ok = false;
                        break;
                    }
                    let msize = btf.type_size(m.type_id)?;
                    let (ty, a) = self.rust_type(m.type_id, depth + 1)?;
                    align = align.max(a);
                    fields.push((ident(m.name), ty, u64::from(m.bit_offset / 8), msize, a));
                }
                match ok
                    .then(|| struct_def(&name, &fields, u64::from(*size), align))
                    .flatten()
                {
                    Some(def) => {
                        self.named.insert(id, name.clone());
                        self.defs.insert(name.clone(), def);
                        (name, align)
                    }
                    None => (Self::opaque(u64::from(*size)), 1),
                }
            }
            _ => (Self::opaque(size), 1),
        })
    }

    fn align_of(&mut self, id: u32, depth: u32) -> Result<u64> {
        let t = self.btf.type_by_id(id)?;
        let mut align = 1;
        for m in t.members().to_vec() {
            let (_, a) = self.rust_type(m.type_id, depth + 1)?;
            align = align.max(a);
        }
        Ok(align)
    }
}

/// A `#[repr(C)]` struct with padding fields so that every field sits at its C offset and the
/// struct has the C size; `None` when the layout cannot be expressed (packed structs).
fn struct_def(
    name: &str,
    fields: &[(String, String, u64, u64, u64)],
    size: u64,
    align: u64,
) -> Option<String> {
    let mut body = String::new();
    let mut read = String::new();
    let mut write = String::new();
    let mut at = 0u64;
    let mut pad = 0;
    for (fname, ty, off, fsize, falign) in fields {
        if *off < at || off % falign != 0 {
            return None;
        }
        if *off > at {
            let _ = writeln!(
                body,
                "    /// Padding.\n    pub _pad{pad}: [u8; {}],",
                off - at
            );
            let _ = writeln!(read, "            _pad{pad}: [0; {}],", off - at);
            pad += 1;
        }
        let _ = writeln!(
            body,
            "    /// At byte {off}, {fsize} bytes.\n    pub {fname}: {ty},"
        );
        let _ = writeln!(
            read,
            "            {fname}: bpfkit::skeleton::Plain::read(&b[{off}..]),"
        );
        let _ = writeln!(
            write,
            "        bpfkit::skeleton::Plain::write(&self.{fname}, &mut out[{off}..]);"
        );
        at = off + fsize;
    }
    if size % align != 0 || at > size {
        return None;
    }
    if size > at {
        let _ = writeln!(
            body,
            "    /// Padding.\n    pub _pad{pad}: [u8; {}],",
            size - at
        );
        let _ = writeln!(read, "            _pad{pad}: [0; {}],", size - at);
    }
    let mut s = format!(
        "#[repr(C)]\n#[derive(Clone, Copy, Debug, PartialEq)]\n#[allow(non_snake_case)]\npub struct {name} {{\n{body}}}\n\n"
    );
    let _ = writeln!(
        s,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        <Self as bpfkit::skeleton::Plain>::read(&[0u8; {size}])\n    }}\n}}\n"
    );
    let _ = write!(
        s,
        "impl bpfkit::skeleton::Plain for {name} {{\n    const SIZE: usize = {size};\n    fn read(b: &[u8]) -> Self {{\n        Self {{\n{read}        }}\n    }}\n    #[allow(unused_variables)]\n    fn write(&self, out: &mut [u8]) {{\n{write}    }}\n}}\n"
    );
    Some(s)
}

/// Generates the skeleton source of object `bytes` (file name `file_name`, for the object name
/// and the comment at the top).
pub fn generate(bytes: &[u8], file_name: &str, opts: &SkeletonOptions) -> Result<String> {
    let obj_name = bpfkit_elf::object_name_from_path(std::path::Path::new(file_name));
    let obj = ElfObject::parse(&obj_name, bytes)?;
    generate_from(&obj, bytes, file_name, opts)
}

fn generate_from(
    obj: &ElfObject,
    bytes: &[u8],
    file_name: &str,
    opts: &SkeletonOptions,
) -> Result<String> {
    let sk = camel(&opts.name);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Skeleton of `{file_name}`, generated by `bpfkit gen skeleton`. Do not edit: regenerate.\n\
         //\n\
         // Use: `mod {m} {{ include!(\"{m}.skel.rs\"); }}`, then `{m}::open()?` → adjust `rodata` →\n\
         // `.load()?` → `.attach()?`.\n",
        m = ident(&opts.name)
    );
    let _ = writeln!(out, "/// The object name (prefix of its data map names).\npub const OBJECT_NAME: &str = {:?};\n", obj.name);
    match &opts.embed {
        Embed::IncludeBytes(p) => {
            let _ = writeln!(
                out,
                "/// The object file.\npub static OBJECT: &[u8] = include_bytes!({p:?});\n"
            );
        }
        Embed::Env(v) => {
            let _ = writeln!(
                out,
                "/// The object file.\npub static OBJECT: &[u8] = include_bytes!(env!({v:?}));\n"
            );
        }
        Embed::Inline => {
            let mut lit = String::with_capacity(bytes.len() * 4);
            for b in bytes {
                let _ = write!(lit, "\\x{b:02x}");
            }
            let _ = writeln!(
                out,
                "/// The object file.\npub static OBJECT: &[u8] = b\"{lit}\";\n"
            );
        }
    }

    // Data sections as structs.
    let mut sections = Vec::new();
    let mut gen = obj.btf.as_ref().map(|btf| TypeGen {
        btf,
        defs: BTreeMap::new(),
        named: BTreeMap::new(),
    });
    let mut sec_defs = String::new();
    for m in &obj.maps {
        let Some(d) = &m.data else { continue };
        if d.kind == DataKind::Kconfig {
            continue;
        }
        let sname = camel(d.section.trim_start_matches('.'));
        let accessor = ident(&d.section.trim_start_matches('.').replace('.', "_"));
        let size = d.bytes.len() as u64;
        let mut fields = Vec::new();
        if let Some(g) = gen.as_mut() {
            for v in &d.vars {
                let Some(var_id) = v.btf_var_id else { continue };
                let ty_id = g.btf.type_by_id(var_id)?.referenced().unwrap_or(0);
                let (ty, a) = g.rust_type(ty_id, 0)?;
                fields.push((ident(&v.name), ty, v.offset, v.size, a));
            }
        }
        let def = struct_def(&sname, &fields, size, 1)
            .or_else(|| struct_def(&sname, &[], size, 1))
            .ok_or_else(|| Error::Object {
                object: obj.name.clone(),
                detail: format!("section {} has no expressible layout", d.section),
            })?;
        let _ = writeln!(sec_defs, "/// The `{}` section.\n{def}", d.section);
        sections.push((d.kind, d.section.clone(), sname, accessor));
    }
    if let Some(g) = &gen {
        for def in g.defs.values() {
            let _ = writeln!(out, "{def}");
        }
    }
    out.push_str(&sec_defs);

    // Open phase.
    let _ = writeln!(out, "/// The opened object: adjust `rodata`/`data`/`bss` and `obj`, then [`Open{sk}Skel::load`].\npub struct Open{sk}Skel {{\n    /// The object, for adjustments beyond the data sections.\n    pub obj: bpfkit::ObjectBuilder,");
    for (_, sec, sname, acc) in &sections {
        let _ = writeln!(
            out,
            "    /// Initial value of `{sec}`.\n    pub {acc}: {sname},"
        );
    }
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "/// Opens the embedded object.\npub fn open() -> bpfkit::Result<Open{sk}Skel> {{\n    let obj = bpfkit::ObjectBuilder::open_bytes(OBJECT_NAME, OBJECT)?;");
    for (_, sec, sname, acc) in &sections {
        let _ = writeln!(out, "    let {acc} = obj\n        .section_data({sec:?})\n        .and_then(<{sname} as bpfkit::skeleton::Plain>::from_bytes)\n        .unwrap_or_default();");
    }
    let fields: Vec<&str> = sections.iter().map(|s| s.3.as_str()).collect();
    let _ = writeln!(
        out,
        "    Ok(Open{sk}Skel {{ obj, {} }})\n}}\n",
        fields.join(", ")
    );
    let mutable = if sections.is_empty() { "" } else { "mut " };
    let _ = writeln!(out, "impl Open{sk}Skel {{\n    /// Writes the data sections into the object and loads it.\n    pub fn load({mutable}self) -> bpfkit::Result<{sk}Skel> {{");
    for (_, sec, _, acc) in &sections {
        let _ = writeln!(out, "        self.obj.set_section_data({sec:?}, &bpfkit::skeleton::Plain::to_bytes(&self.{acc}))?;");
    }
    let _ = writeln!(
        out,
        "        Ok({sk}Skel {{ obj: self.obj.load()? }})\n    }}\n}}\n"
    );

    // Loaded phase.
    let _ = writeln!(out, "/// The loaded object.\npub struct {sk}Skel {{\n    /// The loaded object.\n    pub obj: bpfkit::Object,\n}}\n");
    let _ = writeln!(
        out,
        "/// The maps, one field each.\n#[allow(non_snake_case)]\npub struct {sk}Maps<'a> {{"
    );
    let created: Vec<_> = obj
        .maps
        .iter()
        .filter(|m| m.origin != bpfkit_elf::MapOrigin::InnerTemplate)
        .collect();
    for m in &created {
        let field = match &m.data {
            Some(d) => ident(&d.section.trim_start_matches('.').replace('.', "_")),
            None => ident(&m.name),
        };
        let _ = writeln!(
            out,
            "    /// Map `{}`.\n    pub {field}: &'a bpfkit::Map,",
            m.name
        );
    }
    let _ = writeln!(
        out,
        "}}\n\n/// The programs, one field each.\n#[allow(non_snake_case)]\npub struct {sk}Progs<'a> {{"
    );
    for p in &obj.programs {
        let _ = writeln!(
            out,
            "    /// Program `{}` (`SEC(\"{}\")`).\n    pub {}: &'a bpfkit::Program,",
            p.name,
            p.section,
            ident(&p.name)
        );
    }
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "impl {sk}Skel {{\n    /// The maps.\n    pub fn maps(&self) -> bpfkit::Result<{sk}Maps<'_>> {{\n        let get = |n: &str| {{\n            self.obj.map(n).ok_or_else(|| bpfkit::Error::InvalidArgument(format!(\"map `{{n}}` is not loaded\")))\n        }};\n        Ok({sk}Maps {{");
    for m in &created {
        let field = match &m.data {
            Some(d) => ident(&d.section.trim_start_matches('.').replace('.', "_")),
            None => ident(&m.name),
        };
        let _ = writeln!(out, "            {field}: get({:?})?,", m.name);
    }
    let _ = writeln!(out, "        }})\n    }}\n\n    /// The programs (an error when one was left out with `set_autoload(false)`).\n    pub fn progs(&self) -> bpfkit::Result<{sk}Progs<'_>> {{\n        let get = |n: &str| {{\n            self.obj.program(n).ok_or_else(|| bpfkit::Error::InvalidArgument(format!(\"program `{{n}}` is not loaded\")))\n        }};\n        Ok({sk}Progs {{");
    for p in &obj.programs {
        let _ = writeln!(out, "            {}: get({:?})?,", ident(&p.name), p.name);
    }
    let _ = writeln!(out, "        }})\n    }}\n\n    /// Attaches every program whose section names its target; drop the links to detach.\n    pub fn attach(&self) -> bpfkit::Result<Vec<bpfkit::Link>> {{\n        self.obj.attach()\n    }}");
    for (kind, sec, sname, acc) in &sections {
        let _ = writeln!(out, "\n    /// Reads `{sec}` as the programs see it now.\n    pub fn {acc}(&self) -> bpfkit::Result<{sname}> {{\n        let b = self.obj.read_section({sec:?})?;\n        <{sname} as bpfkit::skeleton::Plain>::from_bytes(&b).ok_or_else(|| bpfkit::Error::InvalidArgument(\"short section value\".into()))\n    }}");
        if *kind != DataKind::Rodata {
            let _ = writeln!(out, "\n    /// Writes `{sec}`.\n    pub fn set_{}(&self, v: &{sname}) -> bpfkit::Result<()> {{\n        self.obj.write_section({sec:?}, &bpfkit::skeleton::Plain::to_bytes(v))\n    }}", acc.trim_start_matches("r#"));
        }
    }
    let _ = writeln!(out, "}}");
    Ok(out)
}
