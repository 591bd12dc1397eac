//! `bpfkit map`: bpftool's map verbs with its argument syntax (`key [hex] BYTES`, `value
//! BYTES | PROG | MAP`, `any|exist|noexist`) and its output: hex dumps and `Found N elements`,
//! BTF-formatted entries when the map has BTF, and JSON with `formatted` objects.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use bpfkit::{Map, MapType};
use bpfkit_btf::Btf;
use bpfkit_sys::map::{map_info, MapInfoRaw, BPF_ANY, BPF_EXIST, BPF_NOEXIST};
use bpfkit_sys::obj::{get_fd_by_id, get_next_id, ObjKind};

use crate::output::{self, fail, hex_json, hex_text, print_json, ObjClass, Owner, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

const HELP: &str = "Usage: bpfkit map { show | list }   [MAP]
       bpfkit map create     FILE type TYPE key KEY_SIZE value VALUE_SIZE \\
                              entries MAX_ENTRIES name NAME [flags FLAGS] \\
                              [inner_map MAP]
       bpfkit map dump       MAP
       bpfkit map update     MAP [key DATA] [value VALUE] [UPDATE_FLAGS]
       bpfkit map lookup     MAP [key DATA]
       bpfkit map getnext    MAP [key DATA]
       bpfkit map delete     MAP  key DATA
       bpfkit map pin        MAP  FILE
       bpfkit map event_pipe MAP [cpu N index M]
       bpfkit map peek       MAP
       bpfkit map push       MAP value VALUE
       bpfkit map pop        MAP
       bpfkit map enqueue    MAP value VALUE
       bpfkit map dequeue    MAP
       bpfkit map freeze     MAP
       bpfkit map help

       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }
       DATA := { [hex] BYTES }
       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }
       VALUE := { DATA | MAP | PROG }
       UPDATE_FLAGS := { any | exist | noexist }";

/// `bpfkit map …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "show".to_string());
    let v = verb.as_str();
    let is = |kw: &str| target::is_prefix(v, kw);
    if is("show") || is("list") {
        show(g, &mut args)
    } else if is("dump") {
        dump(g, &mut args)
    } else if is("update") {
        update(g, &mut args)
    } else if is("lookup") {
        lookup(g, &mut args)
    } else if is("getnext") {
        getnext(g, &mut args)
    } else if is("delete") {
        delete(g, &mut args)
    } else if is("pin") {
        let fd = target::parse_one_map(&mut args)?;
        let path = args
            .next()
            .ok_or_else(|| fail("please specify the path to pin to"))?;
        args.finish()?;
        crate::prog::pin_fd(fd.as_fd(), &path)?;
        done(g)
    } else if is("event_pipe") {
        crate::map_event_pipe::run(g, &mut args)
    } else if is("peek") {
        queue_read(g, &mut args, QueueOp::Peek)
    } else if is("pop") || is("dequeue") {
        queue_read(g, &mut args, QueueOp::Pop)
    } else if is("push") || is("enqueue") {
        push(g, &mut args)
    } else if is("freeze") {
        let map = open_map(&mut args)?;
        args.finish()?;
        map.freeze()
            .map_err(|e| fail(format!("failed to freeze map: {}", output::err_text(&e))))?;
        done(g)
    } else if is("create") {
        create(g, &mut args)
    } else if is("help") {
        println!("{HELP}");
        Ok(())
    } else {
        Err(output::usage(format!("unknown map command '{v}'\n{HELP}")))
    }
}

/// What a successful write prints: nothing, or `null` under `-j`.
fn done(g: &Global) -> Result<(), CliError> {
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

fn open_map(args: &mut Args) -> Result<Map, CliError> {
    let fd = target::parse_one_map(args)?;
    Map::from_fd(fd).map_err(|e| fail(format!("can't get map info: {e}")))
}

fn type_name(t: u32) -> J {
    match MapType::from_raw(t) {
        Some(m) => J::s(m.name()),
        None => J::U(t.into()),
    }
}

/// fdinfo facts bpftool shows: memlock, frozen, and a prog_array's owner.
struct FdFacts {
    memlock: Option<u64>,
    frozen: bool,
    owner_type: Option<u32>,
    owner_jited: Option<bool>,
}

fn fd_facts(fd: BorrowedFd<'_>) -> FdFacts {
    let text =
        output::read_small(&format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap_or_default();
    FdFacts {
        memlock: output::fdinfo_field(&text, "memlock:"),
        frozen: output::fdinfo_field(&text, "frozen:").unwrap_or(0) != 0,
        owner_type: output::fdinfo_field(&text, "owner_prog_type:").map(|v| v as u32),
        owner_jited: output::fdinfo_field(&text, "owner_jited:").map(|v| v != 0),
    }
}

struct Extras {
    pinned: BTreeMap<u32, Vec<PathBuf>>,
    owners: BTreeMap<u32, Vec<Owner>>,
}

fn show(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let all = args.is_empty();
    let fds: Vec<OwnedFd> = if all {
        let mut v = Vec::new();
        let mut cur = 0;
        loop {
            match get_next_id(ObjKind::Map, cur) {
                Ok(Some(id)) => {
                    cur = id;
                    if let Ok(fd) = get_fd_by_id(ObjKind::Map, id) {
                        v.push(fd);
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(fail(format!("can't get next map: {}", target::sys_err(&e)))),
            }
        }
        v
    } else {
        let v = target::parse_map(args)?;
        args.finish()?;
        v
    };
    // The /proc scan for owners runs beside the per-map work.
    let bpffs = g.bpffs;
    let scan = std::thread::spawn(move || Extras {
        pinned: if bpffs {
            output::pinned_paths(ObjClass::Map)
        } else {
            BTreeMap::new()
        },
        owners: output::owners(ObjClass::Map),
    });
    let mut rows = Vec::new();
    for fd in &fds {
        let info = match map_info(fd.as_fd()) {
            Ok(i) => i,
            Err(_) if all => continue,
            Err(e) => return Err(fail(format!("can't get map info: {}", target::sys_err(&e)))),
        };
        rows.push((info, fd_facts(fd.as_fd())));
    }
    let x = scan.join().unwrap_or_else(|_| Extras {
        pinned: BTreeMap::new(),
        owners: BTreeMap::new(),
    });
    let mut items = Vec::new();
    let mut text = String::new();
    for (info, f) in &rows {
        if g.json() {
            items.push(map_json(info, f, &x));
        } else {
            text.push_str(&map_text(info, f, &x));
        }
    }
    if g.json() {
        print_json(g, &output::list_or_one(items, !all));
    } else {
        crate::emit(&text)?;
    }
    Ok(())
}

fn map_json(i: &MapInfoRaw, f: &FdFacts, x: &Extras) -> J {
    let mut o = J::obj();
    o.push("id", J::U(i.id.into()))
        .push("type", type_name(i.map_type));
    let name = bpfkit_sys::prog::name_from_bytes(&i.name);
    if !name.is_empty() {
        o.push("name", J::s(name));
    }
    o.push("flags", J::U(i.map_flags.into()))
        .push("bytes_key", J::U(i.key_size.into()))
        .push("bytes_value", J::U(i.value_size.into()))
        .push("max_entries", J::U(i.max_entries.into()));
    if let Some(m) = f.memlock {
        o.push("bytes_memlock", J::U(m));
    }
    if i.map_extra != 0 {
        o.push("map_extra", J::U(i.map_extra));
    }
    if let Some(t) = f.owner_type {
        o.push(
            "owner_prog_type",
            match bpfkit::ProgramType::from_u32(t) {
                Some(p) => J::s(p.name()),
                None => J::U(t.into()),
            },
        );
    }
    if let Some(j) = f.owner_jited {
        o.push("owner_jited", J::Bool(j));
    }
    o.push("frozen", J::U(u64::from(f.frozen)));
    if i.btf_id != 0 {
        o.push("btf_id", J::U(i.btf_id.into()));
    }
    if let Some(p) = x.pinned.get(&i.id) {
        o.push(
            "pinned",
            J::Arr(p.iter().map(|p| J::s(p.display().to_string())).collect()),
        );
    }
    if let Some(list) = x.owners.get(&i.id) {
        o.push("pids", output::owners_json(list));
    }
    o
}

fn map_text(i: &MapInfoRaw, f: &FdFacts, x: &Extras) -> String {
    let mut s = format!("{}: ", i.id);
    match MapType::from_raw(i.map_type) {
        Some(t) => s.push_str(&format!("{}  ", t.name())),
        None => s.push_str(&format!("type {}  ", i.map_type)),
    }
    let name = bpfkit_sys::prog::name_from_bytes(&i.name);
    if !name.is_empty() {
        s.push_str(&format!("name {name}  "));
    }
    s.push_str(&format!("flags 0x{:x}\n", i.map_flags));
    s.push_str(&format!(
        "\tkey {}B  value {}B  max_entries {}",
        i.key_size, i.value_size, i.max_entries
    ));
    if let Some(m) = f.memlock {
        s.push_str(&format!("  memlock {m}B"));
    }
    if i.map_extra != 0 {
        s.push_str(&format!("  map_extra {}", i.map_extra));
    }
    if let Some(t) = f.owner_type {
        s.push_str("\n\t");
        match bpfkit::ProgramType::from_u32(t) {
            Some(p) => s.push_str(&format!("owner_prog_type {}  ", p.name())),
            None => s.push_str(&format!("owner_prog_type {t}  ")),
        }
    }
    if let Some(j) = f.owner_jited {
        s.push_str(if j { "owner jited" } else { "owner not jited" });
    }
    if let Some(p) = x.pinned.get(&i.id) {
        for p in p {
            s.push_str(&format!("\n\tpinned {}", p.display()));
        }
    }
    if i.btf_id != 0 || f.frozen {
        s.push_str("\n\t");
    }
    if i.btf_id != 0 {
        s.push_str(&format!("btf_id {}", i.btf_id));
    }
    if f.frozen {
        s.push_str(if i.btf_id != 0 { "  frozen" } else { "frozen" });
    }
    if let Some(list) = x.owners.get(&i.id) {
        s.push('\n');
        s.push_str(&output::owners_text(list));
    }
    s.push('\n');
    s
}

/// A map opened for element access, with its BTF when it has key/value types.
struct Opened {
    map: Map,
    info: MapInfoRaw,
    btf: Option<Btf>,
}

impl Opened {
    fn new(map: Map) -> Result<Opened, CliError> {
        let info = map_info(map.fd())
            .map_err(|e| fail(format!("can't get map info: {}", target::sys_err(&e))))?;
        let btf = if info.btf_id != 0 && (info.btf_value_type_id != 0 || info.btf_key_type_id != 0)
        {
            crate::btf::load_btf(info.btf_id).ok()
        } else if info.btf_vmlinux_value_type_id != 0 {
            Btf::vmlinux().ok()
        } else {
            None
        };
        Ok(Opened { map, info, btf })
    }

    fn percpu(&self) -> bool {
        bpfkit_sys::map::is_percpu_type(self.info.map_type)
    }

    fn value_type(&self) -> u32 {
        if self.info.btf_value_type_id != 0 {
            self.info.btf_value_type_id
        } else {
            self.info.btf_vmlinux_value_type_id
        }
    }

    /// The values of `key` (one per CPU for per-CPU maps), `None` when absent.
    fn values(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, bpfkit::Error> {
        if self.percpu() {
            self.map.lookup_percpu(key)
        } else {
            Ok(self.map.lookup(key)?.map(|v| vec![v]))
        }
    }

    /// The `formatted` object of an entry.
    fn formatted(&self, key: &[u8], values: &[Vec<u8>], text: bool) -> Option<J> {
        let btf = self.btf.as_ref()?;
        let mut o = J::obj();
        if self.info.btf_key_type_id != 0 {
            o.push(
                "key",
                crate::btf_value::format(btf, self.info.btf_key_type_id, key, text),
            );
        }
        let vt = self.value_type();
        if self.percpu() {
            let per: Vec<J> = values
                .iter()
                .enumerate()
                .map(|(cpu, v)| {
                    let mut e = J::obj();
                    e.push("cpu", J::U(cpu as u64))
                        .push("value", crate::btf_value::format(btf, vt, v, text));
                    e
                })
                .collect();
            o.push("values", J::Arr(per));
        } else if let Some(v) = values.first() {
            o.push("value", crate::btf_value::format(btf, vt, v, text));
        }
        Some(o)
    }

    /// An entry as bpftool's JSON object.
    fn entry_json(&self, key: &[u8], values: &[Vec<u8>]) -> J {
        let mut o = J::obj();
        o.push("key", hex_json(key));
        if self.percpu() {
            let per: Vec<J> = values
                .iter()
                .enumerate()
                .map(|(cpu, v)| {
                    let mut e = J::obj();
                    e.push("cpu", J::U(cpu as u64)).push("value", hex_json(v));
                    e
                })
                .collect();
            o.push("values", J::Arr(per));
        } else if let Some(v) = values.first() {
            o.push("value", hex_json(v));
        }
        if let Some(f) = self.formatted(key, values, false) {
            o.push("formatted", f);
        }
        o
    }

    /// An entry as bpftool's plain text (no BTF).
    fn entry_text(&self, key: &[u8], values: &[Vec<u8>]) -> String {
        let ks = self.info.key_size as usize;
        let vs = self.info.value_size as usize;
        if self.percpu() {
            let mut s = format!("key:\n{}\n", hex_text(key));
            for (cpu, v) in values.iter().enumerate() {
                s.push_str(&format!(
                    "value (CPU {cpu:02}):{}{}\n",
                    if vs > 16 { '\n' } else { ' ' },
                    hex_text(v)
                ));
            }
            return s;
        }
        let break_names = ks > 16 || vs > 16;
        let single = ks + vs <= 24 && !break_names;
        let sep = if break_names { '\n' } else { ' ' };
        let v = values.first().map(Vec::as_slice).unwrap_or(&[]);
        format!(
            "key:{sep}{}{}value:{sep}{}\n",
            hex_text(key),
            if single { "  " } else { "\n" },
            hex_text(v)
        )
    }
}

fn dump(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let maps = target::parse_map(args)?;
    args.finish()?;
    let mut all_json = Vec::new();
    for fd in maps {
        let m =
            Opened::new(Map::from_fd(fd).map_err(|e| fail(format!("can't get map info: {e}")))?)?;
        let t = m.info.map_type;
        if matches!(
            MapType::from_raw(t),
            Some(MapType::Ringbuf | MapType::UserRingbuf)
        ) {
            return Err(fail(format!(
                "can't dump map of type {}: not supported",
                MapType::from_raw(t).map(|x| x.name()).unwrap_or("?")
            )));
        }
        let ks = m.info.key_size as usize;
        let mut key: Option<Vec<u8>> = None;
        let mut count = 0usize;
        let mut text = String::new();
        let mut btf_items = Vec::new();
        loop {
            let next = match m.map.next_key(key.as_deref()) {
                Ok(Some(k)) => k,
                Ok(None) => break,
                Err(_) => break,
            };
            let next = if next.len() == ks { next } else { break };
            match m.values(&next) {
                Ok(Some(vals)) => {
                    count += 1;
                    if g.json() {
                        all_json.push(m.entry_json(&next, &vals));
                    } else if let Some(f) = m.formatted(&next, &vals, true) {
                        btf_items.push(f);
                    } else {
                        text.push_str(&m.entry_text(&next, &vals));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let msg = output::err_text(&e);
                    if g.json() {
                        let mut o = J::obj();
                        o.push("key", hex_json(&next));
                        let mut v = J::obj();
                        v.push("error", J::s(msg));
                        o.push("value", v);
                        all_json.push(o);
                    } else {
                        text.push_str(&format!("key:\n{}\n\nvalue:\n<{msg}>\n", hex_text(&next)));
                    }
                }
            }
            key = Some(next);
        }
        if !g.json() {
            if m.btf.is_some() {
                crate::emit(&format!("{}\n", J::Arr(btf_items).render(true)))?;
            } else {
                let plural = if count == 1 { "" } else { "s" };
                crate::emit(&format!("{text}Found {count} element{plural}\n"))?;
            }
        }
    }
    if g.json() {
        print_json(g, &J::Arr(all_json));
    }
    Ok(())
}

/// Reads `[hex] BYTES`: exactly `n` words, each a byte (`strtoul` base 0, or 16 after `hex`).
fn parse_bytes(args: &mut Args, n: usize, what: &str) -> Result<Vec<u8>, CliError> {
    let hex = args.peek() == Some("hex");
    if hex {
        args.next();
    }
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let Some(w) = args.next() else { break };
        let v = if hex {
            u64::from_str_radix(&w, 16).ok()
        } else {
            target::parse_u64(&w)
        };
        match v.and_then(|v| u8::try_from(v).ok()) {
            Some(b) => out.push(b),
            None => return Err(fail(format!("error parsing byte: {w}"))),
        }
    }
    if out.len() != n {
        return Err(fail(format!("{what} expected {n} bytes got {}", out.len())));
    }
    Ok(out)
}

fn parse_key(args: &mut Args, m: &Opened) -> Result<Option<Vec<u8>>, CliError> {
    if !args.eat("key") {
        return Ok(None);
    }
    parse_bytes(args, m.info.key_size as usize, "key").map(Some)
}

fn update(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let m = Opened::new(open_map(args)?)?;
    let mut key = None;
    let mut value = None;
    let mut _held: Option<OwnedFd> = None;
    let mut flags = BPF_ANY;
    while let Some(w) = args.peek().map(str::to_string) {
        if w == "key" {
            key = parse_key(args, &m)?;
        } else if w == "value" {
            args.next();
            let (v, fd) = parse_value(args, &m)?;
            value = Some(v);
            _held = fd;
        } else if w == "any" || w == "exist" || w == "noexist" {
            args.next();
            flags = match w.as_str() {
                "exist" => BPF_EXIST,
                "noexist" => BPF_NOEXIST,
                _ => BPF_ANY,
            };
        } else {
            return Err(fail(format!("expected key or value, got: {w}")));
        }
    }
    let key = match key {
        Some(k) => k,
        None if m.info.key_size == 0 => Vec::new(),
        None => return Err(fail("did not find key")),
    };
    let value = value.ok_or_else(|| fail("did not find value"))?;
    let r = if m.percpu() {
        let slots = m.map.value_slots();
        let values: Vec<Vec<u8>> = (0..slots).map(|_| value.clone()).collect();
        m.map.update_percpu(&key, &values, flags)
    } else {
        m.map.update(&key, &value, flags)
    };
    r.map_err(|e| fail(format!("update failed: {}", output::err_text(&e))))?;
    done(g)
}

/// A value: bytes, or for fd maps the program (prog_array) or map (map-in-map) it names, whose
/// fd is returned too so that it stays open until the update.
fn parse_value(args: &mut Args, m: &Opened) -> Result<(Vec<u8>, Option<OwnedFd>), CliError> {
    let t = MapType::from_raw(m.info.map_type);
    let first = args.peek().unwrap_or("").to_string();
    if matches!(first.as_str(), "id" | "pinned" | "name" | "tag") {
        let fd = match t {
            Some(MapType::ProgArray) => target::parse_one_prog(args)?,
            Some(MapType::ArrayOfMaps | MapType::HashOfMaps) => target::parse_one_map(args)?,
            _ => return Err(fail(format!("error parsing byte: {first}"))),
        };
        let bytes = (fd.as_raw_fd() as u32).to_ne_bytes().to_vec();
        return Ok((bytes, Some(fd)));
    }
    Ok((
        parse_bytes(args, m.info.value_size as usize, "value")?,
        None,
    ))
}

fn lookup(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let m = Opened::new(open_map(args)?)?;
    let key = match parse_key(args, &m)? {
        Some(k) => k,
        None if m.info.key_size == 0 => Vec::new(),
        None => return Err(fail("did not find key")),
    };
    if let Some(w) = args.peek() {
        return Err(fail(format!("expected key or value, got: {w}")));
    }
    let vals = m
        .values(&key)
        .map_err(|e| fail(format!("lookup failed: {}", output::err_text(&e))))?;
    let Some(vals) = vals else {
        if g.json() {
            print_json(g, &J::Null);
        } else {
            println!("key:\n{}\n\nNot found", hex_text(&key));
        }
        return Err(CliError::Reported(1));
    };
    if g.json() {
        print_json(g, &m.entry_json(&key, &vals));
    } else if let Some(f) = m.formatted(&key, &vals, true) {
        println!("{}", f.render(true));
    } else {
        crate::emit(&m.entry_text(&key, &vals))?;
    }
    Ok(())
}

fn getnext(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let m = Opened::new(open_map(args)?)?;
    let key = parse_key(args, &m)?;
    args.finish()?;
    let next = m
        .map
        .next_key(key.as_deref())
        .map_err(|e| fail(format!("can't get next key: {}", output::err_text(&e))))?
        .ok_or_else(|| fail("can't get next key: No such file or directory"))?;
    if g.json() {
        let mut o = J::obj();
        o.push("key", key.as_deref().map(hex_json).unwrap_or(J::Null))
            .push("next_key", hex_json(&next));
        print_json(g, &o);
    } else {
        match &key {
            Some(k) => println!("key:\n{}", hex_text(k)),
            None => println!("key: None"),
        }
        println!("next key:\n{}", hex_text(&next));
    }
    Ok(())
}

fn delete(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let m = Opened::new(open_map(args)?)?;
    let key = parse_key(args, &m)?.ok_or_else(|| fail("did not find key"))?;
    args.finish()?;
    match m.map.delete(&key) {
        Ok(true) => done(g),
        Ok(false) => Err(fail("delete failed: No such file or directory")),
        Err(e) => Err(fail(format!("delete failed: {}", output::err_text(&e)))),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum QueueOp {
    Peek,
    Pop,
}

fn queue_read(g: &Global, args: &mut Args, op: QueueOp) -> Result<(), CliError> {
    let m = Opened::new(open_map(args)?)?;
    args.finish()?;
    let r = match op {
        QueueOp::Peek => m.map.peek(),
        QueueOp::Pop => m.map.pop(),
    };
    let v = r
        .map_err(|e| fail(format!("empty map: {}", output::err_text(&e))))?
        .ok_or_else(|| fail("empty map"))?;
    if g.json() {
        let mut o = J::obj();
        o.push("key", J::Arr(vec![])).push("value", hex_json(&v));
        print_json(g, &o);
    } else {
        println!("value: {}", hex_text(&v));
    }
    Ok(())
}

fn push(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let m = Opened::new(open_map(args)?)?;
    if !args.eat("value") {
        return Err(fail("did not find value"));
    }
    let value = parse_bytes(args, m.info.value_size as usize, "value")?;
    args.finish()?;
    m.map
        .push(&value, BPF_ANY)
        .map_err(|e| fail(format!("update failed: {}", output::err_text(&e))))?;
    done(g)
}

fn create(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let path = args.next().ok_or_else(|| fail("missing path"))?;
    let mut map_type = None;
    let mut key = None;
    let mut value = None;
    let mut entries = None;
    let mut name = String::new();
    let mut flags = 0u32;
    let mut inner: Option<OwnedFd> = None;
    let mut extra = 0u64;
    while let Some(w) = args.next() {
        let num = |args: &mut Args, kw: &str| -> Result<u64, CliError> {
            let v = args.value_of(kw)?;
            target::parse_u64(&v).ok_or_else(|| fail(format!("can't parse {kw} {v}")))
        };
        match w.as_str() {
            "type" => {
                let t = args.value_of("type")?;
                map_type = Some(
                    MapType::from_name(&t)
                        .ok_or_else(|| fail(format!("unrecognized map type: {t}")))?,
                );
            }
            "key" => key = Some(num(args, "key")? as u32),
            "value" => value = Some(num(args, "value")? as u32),
            "entries" => entries = Some(num(args, "entries")? as u32),
            "name" => name = args.value_of("name")?,
            "flags" => flags = num(args, "flags")? as u32,
            "extra" | "map_extra" => extra = num(args, "extra")?,
            "inner_map" => inner = Some(target::parse_one_map(args)?),
            other => return Err(fail(format!("unknown arg {other}"))),
        }
    }
    let map_type = map_type.ok_or_else(|| fail("map type not specified"))?;
    let key = key.ok_or_else(|| fail("key size not specified"))?;
    let value = value.ok_or_else(|| fail("value size not specified"))?;
    let entries = entries.ok_or_else(|| fail("max entries not specified"))?;
    let mut spec = bpfkit::MapSpec::new(map_type, key, value, entries)
        .name(name)
        .flags(flags)
        .map_extra(extra);
    if let Some(fd) = &inner {
        spec = spec.inner_map(fd.as_fd());
    }
    let map = Map::create(&spec).map_err(|e| fail(format!("map create failed: {e}")))?;
    crate::prog::pin_fd(map.fd(), &path)?;
    done(g)
}
