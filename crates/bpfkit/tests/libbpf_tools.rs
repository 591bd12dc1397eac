//! An object no one here wrote, run through the library: the BPF object Debian's
//! `/usr/sbin/execsnoop` (libbpf-tools) embeds, loaded with `ObjectBuilder`, auto-attached,
//! its perf buffer read with `PerfBuf`, its `struct event` decoded through the object's own
//! BTF. (`bpfkit prog loadall` of every libbpf-tools object is tested in bpfkit-cli.)

mod common;

use std::time::{Duration, Instant};

use bpfkit::{ObjectBuilder, PerfBuf, PerfBufOptions, PerfEvent};
use bpfkit_btf::{Btf, Kind};
use common::assert_gone;

/// Byte offsets of `struct event`'s members, from the object's BTF.
fn event_layout(btf: &Btf) -> impl Fn(&str) -> usize + '_ {
    let id = btf
        .find_by_name_kind("event", Kind::Struct)
        .expect("struct event in the object's BTF");
    move |name: &str| {
        let t = btf.type_by_id(id).unwrap();
        let m = t
            .members()
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("event.{name}"));
        (m.bit_offset / 8) as usize
    }
}

fn i32_at(b: &[u8], off: usize) -> i32 {
    i32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
}

#[test]
fn debians_execsnoop_object_reports_our_exec() {
    let bin = std::fs::read("/usr/sbin/execsnoop")
        .expect("/usr/sbin/execsnoop (apt install libbpf-tools)");
    let objects = bpfkit_elf::extract_embedded_objects(&bin);
    assert_eq!(objects.len(), 1, "one embedded object");
    let b = ObjectBuilder::open_bytes("execsnoop_bpf", objects[0]).unwrap();
    let btf = b.object().btf.clone().expect("the object has BTF");
    let off = event_layout(&btf);
    let obj = b.load().unwrap();
    let mut perf = PerfBuf::new(obj.map("events").unwrap(), &PerfBufOptions::default()).unwrap();
    let links = obj.attach().unwrap();
    assert_eq!(links.len(), 2, "sys_enter_execve and sys_exit_execve");

    let marker = format!("bpfkit_lt_marker_{}", std::process::id());
    let child = std::process::Command::new("/bin/true")
        .arg(&marker)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    child.wait_with_output().unwrap();

    let mut found = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while found.is_none() && Instant::now() < deadline {
        perf.poll(Some(Duration::from_millis(100)), |ev| {
            if let PerfEvent::Sample { data, .. } = ev {
                if i32_at(data, off("pid")) == pid {
                    found = Some(data.to_vec());
                }
            }
        })
        .unwrap();
    }
    let ev = found.expect("execsnoop's object reported our exec");
    assert_eq!(i32_at(&ev, off("ppid")), std::process::id() as i32);
    assert_eq!(i32_at(&ev, off("retval")), 0);
    let args_at = off("args");
    let size = i32_at(&ev, off("args_size")) as usize;
    let args: Vec<String> = ev[args_at..args_at + size]
        .split(|&c| c == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).to_string())
        .collect();
    assert_eq!(args, ["/bin/true", marker.as_str()]);

    let link_ids: Vec<u32> = links.iter().map(|l| l.id().unwrap()).collect();
    let progs: Vec<u32> = obj
        .programs()
        .iter()
        .map(|p| p.program.id().unwrap())
        .collect();
    let maps: Vec<u32> = obj.maps().iter().map(|m| m.map.id()).collect();
    bpfkit::object::detach_all(links);
    drop(perf);
    drop(obj);
    assert_gone(&progs, &maps, &link_ids);
}
