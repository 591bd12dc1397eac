//! `bpfkit struct_ops show|list|dump|unregister [STRUCT_OPS_MAP]`: the struct_ops maps loaded
//! in the kernel (a BPF implementation of a kernel ops table such as `tcp_congestion_ops`), in
//! bpftool's text and JSON, their info and value through the kernel's BTF (`dump`, always
//! JSON, pretty unless `-j`), and their unregistration (deleting the map's one element).

use std::os::fd::{AsFd, OwnedFd};

use bpfkit_btf::Btf;
use bpfkit_sys::map::{map_info, MapInfoRaw};
use bpfkit_sys::obj::{get_fd_by_id, get_next_id, ObjKind};

use crate::output::{fail, print_json, strerror, usage, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

const HELP: &str = "Usage: bpfkit struct_ops { show | list } [STRUCT_OPS_MAP]
       bpfkit struct_ops dump [STRUCT_OPS_MAP]
       bpfkit struct_ops register OBJ    (not yet: the loader builds no struct_ops maps)
       bpfkit struct_ops unregister STRUCT_OPS_MAP
       bpfkit struct_ops help

       STRUCT_OPS_MAP := [ id STRUCT_OPS_MAP_ID | name STRUCT_OPS_MAP_NAME ]";

/// `BPF_MAP_TYPE_STRUCT_OPS`.
const STRUCT_OPS: u32 = 26;
/// The prefix of the kernel's value type of every struct_ops map.
const VALUE_PREFIX: &str = "bpf_struct_ops_";

/// Runs `bpfkit struct_ops …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "show".to_string());
    let is = |kw: &str| target::is_prefix(&verb, kw);
    if is("show") || is("list") {
        show(g, &mut args)
    } else if is("dump") {
        dump(g, &mut args)
    } else if is("register") {
        Err(fail(
            "struct_ops register: bpfkit's object loader does not build struct_ops maps yet (.struct_ops sections)",
        ))
    } else if is("unregister") {
        unregister(g, &mut args)
    } else if is("help") {
        println!("{HELP}");
        Ok(())
    } else {
        Err(usage(format!(
            "unknown struct_ops command '{verb}'\n{HELP}"
        )))
    }
}

/// A struct_ops map: its fd, info and the kernel struct it implements.
struct OpsMap {
    fd: OwnedFd,
    info: MapInfoRaw,
    kernel_struct: String,
}

impl OpsMap {
    fn name(&self) -> String {
        bpfkit_sys::prog::name_from_bytes(&self.info.name)
    }
}

fn kernel_struct(btf: Option<&Btf>, info: &MapInfoRaw) -> String {
    let name = btf
        .and_then(|b| b.name_of(info.btf_vmlinux_value_type_id).ok())
        .unwrap_or_default();
    name.strip_prefix(VALUE_PREFIX).unwrap_or(name).to_string()
}

/// The maps a `STRUCT_OPS_MAP` names, or every struct_ops map without one.
fn select(args: &mut Args) -> Result<Vec<OpsMap>, CliError> {
    let btf = Btf::vmlinux().ok();
    let wrap = |fd: OwnedFd, info: MapInfoRaw| OpsMap {
        kernel_struct: kernel_struct(btf.as_ref(), &info),
        fd,
        info,
    };
    let by_id = match args.peek() {
        None => None,
        Some(w) if target::is_prefix(w, "id") => {
            args.next();
            Some(target::parse_id(&args.value_of("id")?)?)
        }
        Some(w) if target::is_prefix(w, "name") => {
            args.next();
            let name = args.value_of("name")?;
            args.finish()?;
            let found: Vec<OpsMap> = all()?
                .into_iter()
                .filter(|(_, i)| bpfkit_sys::prog::name_from_bytes(&i.name) == name)
                .map(|(fd, i)| wrap(fd, i))
                .collect();
            if found.is_empty() {
                return Err(fail(format!("no struct_ops found for {name}")));
            }
            return Ok(found);
        }
        Some(w) => return Err(usage(format!("unexpected argument: '{w}'\n{HELP}"))),
    };
    args.finish()?;
    match by_id {
        None => Ok(all()?.into_iter().map(|(fd, i)| wrap(fd, i)).collect()),
        Some(id) => {
            let fd = get_fd_by_id(ObjKind::Map, id).map_err(|e| {
                fail(format!(
                    "can't get map by id ({id}): {}",
                    target::sys_err(&e)
                ))
            })?;
            let info = map_info(fd.as_fd())
                .map_err(|e| fail(format!("can't get map info: {}", target::sys_err(&e))))?;
            if info.map_type != STRUCT_OPS {
                return Err(fail(format!(
                    "{} id {id} is not a struct_ops map",
                    bpfkit_sys::prog::name_from_bytes(&info.name)
                )));
            }
            Ok(vec![wrap(fd, info)])
        }
    }
}

/// Every struct_ops map, in id order.
fn all() -> Result<Vec<(OwnedFd, MapInfoRaw)>, CliError> {
    let mut out = Vec::new();
    let mut cur = 0;
    loop {
        let id = match get_next_id(ObjKind::Map, cur) {
            Ok(Some(id)) => id,
            Ok(None) => break,
            Err(e) => return Err(fail(format!("can't get next map: {e}"))),
        };
        cur = id;
        let Ok(fd) = get_fd_by_id(ObjKind::Map, id) else {
            continue;
        };
        let Ok(info) = map_info(fd.as_fd()) else {
            continue;
        };
        if info.map_type == STRUCT_OPS {
            out.push((fd, info));
        }
    }
    Ok(out)
}

fn show(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let maps = select(args)?;
    if g.json() {
        let arr = maps
            .iter()
            .map(|m| {
                let mut o = J::obj();
                o.push("id", J::U(m.info.id as u64));
                o.push("name", J::s(m.name()));
                o.push("kernel_struct_ops", J::s(m.kernel_struct.as_str()));
                o
            })
            .collect();
        print_json(g, &J::Arr(arr));
        return Ok(());
    }
    let mut out = String::new();
    for m in &maps {
        out.push_str(&format!(
            "{}: {:<15} {:<32}\n",
            m.info.id,
            m.name(),
            m.kernel_struct
        ));
    }
    crate::emit(&out)
}

fn unregister(g: &Global, args: &mut Args) -> Result<(), CliError> {
    if args.is_empty() {
        return Err(usage(HELP));
    }
    let maps = select(args)?;
    for m in &maps {
        let map = bpfkit_sys::map::MapFd::from_fd(
            m.fd.try_clone()
                .map_err(|e| fail(format!("dup of a map fd: {e}")))?,
        )
        .map_err(|e| fail(format!("can't get map info: {}", target::sys_err(&e))))?;
        map.delete(&0u32.to_ne_bytes()).map_err(|e| {
            fail(format!(
                "can't unload {} {} id {}: {}",
                m.kernel_struct,
                m.name(),
                m.info.id,
                e.errno().map_or_else(|| e.to_string(), strerror)
            ))
        })?;
        if !g.json() {
            eprintln!(
                "Unregistered {} {} id {}",
                m.kernel_struct,
                m.name(),
                m.info.id
            );
        }
    }
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

/// `bpf_map_info` as bpftool prints it: every member of the kernel's struct, in its order.
fn info_json(btf: &Btf, info: &MapInfoRaw) -> J {
    let mut o = J::obj();
    let members = btf
        .find_by_name_kind("bpf_map_info", bpfkit_btf::Kind::Struct)
        .and_then(|id| btf.type_by_id(id).ok())
        .map(|t| match &t.detail {
            bpfkit_btf::Detail::Composite { members, .. } => {
                members.iter().map(|m| m.name.to_string()).collect()
            }
            _ => Vec::new(),
        })
        .unwrap_or_default();
    for name in members {
        let v = match name.as_str() {
            "type" => J::U(info.map_type.into()),
            "id" => J::U(info.id.into()),
            "key_size" => J::U(info.key_size.into()),
            "value_size" => J::U(info.value_size.into()),
            "max_entries" => J::U(info.max_entries.into()),
            "map_flags" => J::U(info.map_flags.into()),
            "name" => J::s(bpfkit_sys::prog::name_from_bytes(&info.name)),
            "ifindex" => J::U(info.ifindex.into()),
            "btf_vmlinux_value_type_id" => J::U(info.btf_vmlinux_value_type_id.into()),
            "netns_dev" => J::U(info.netns_dev),
            "netns_ino" => J::U(info.netns_ino),
            "btf_id" => J::U(info.btf_id.into()),
            "btf_key_type_id" => J::U(info.btf_key_type_id.into()),
            "btf_value_type_id" => J::U(info.btf_value_type_id.into()),
            "btf_vmlinux_id" => J::U(info.btf_vmlinux_id.into()),
            "map_extra" => J::U(info.map_extra),
            // Members newer than bpfkit's copy of the struct (e.g. `hash`): the kernel fills
            // them only when asked, as bpftool does not.
            _ => J::U(0),
        };
        o.push(&name, v);
    }
    o
}

fn prog_name(id: u32) -> String {
    let Ok(fd) = get_fd_by_id(ObjKind::Prog, id) else {
        return String::new();
    };
    match bpfkit_sys::prog::prog_info(fd.as_fd()) {
        Ok(info) => crate::prog::full_name(&info, fd.as_fd()),
        Err(_) => String::new(),
    }
}

fn dump(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let maps = select(args)?;
    let btf = Btf::vmlinux().map_err(|e| fail(format!("can't get kernel BTF: {e}")))?;
    let mut items = Vec::new();
    for m in &maps {
        let mut value = vec![0u8; m.info.value_size as usize];
        let map = bpfkit_sys::map::MapFd::from_fd(
            m.fd.try_clone()
                .map_err(|e| fail(format!("dup of a map fd: {e}")))?,
        )
        .map_err(|e| fail(format!("can't get map info: {}", target::sys_err(&e))))?;
        map.lookup(Some(&0u32.to_ne_bytes()), &mut value, 0)
            .map_err(|e| {
                fail(format!(
                    "can't lookup struct_ops map {} id {}: {}",
                    m.name(),
                    m.info.id,
                    target::sys_err(&e)
                ))
            })?;
        let mut info = J::obj();
        info.push("bpf_map_info", info_json(&btf, &m.info));
        items.push(info);
        let vid = m.info.btf_vmlinux_value_type_id;
        let vname = btf.name_of(vid).unwrap_or_default().to_string();
        let mut val = J::obj();
        val.push(
            &vname,
            crate::btf_value::format_struct_ops(&btf, vid, &value, !g.json(), &prog_name),
        );
        items.push(val);
    }
    // bpftool prints the dump as JSON even without -j, pretty-printed then.
    let pretty = g.pretty || !g.json();
    crate::emit(&(J::Arr(items).render(pretty) + "\n"))
}
