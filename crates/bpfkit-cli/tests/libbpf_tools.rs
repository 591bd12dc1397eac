//! Objects no one here wrote: the BPF objects Debian's libbpf-tools binaries embed, extracted
//! and loaded with `bpfkit prog loadall`, which must succeed whenever the original tool starts
//! on this kernel (and the test says which tools do not start, and why).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOOLS: &[&str] = &[
    "execsnoop",
    "opensnoop",
    "exitsnoop",
    "syscount",
    "runqlat",
    "biolatency",
    "tcplife",
    "bashreadline",
];

fn bpfkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
}

/// Starts the original tool for two seconds. It started when it is still running then (it
/// attached and waits for events) or exited 0; a tool that fails to load or attach exits
/// non-zero at once with libbpf's complaint.
fn original_starts(tool: &str) -> (bool, String) {
    let mut child = Command::new(format!("/usr/sbin/{tool}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting /usr/sbin/{tool}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(2) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let started = match status {
        None => {
            // SIGINT, as a user stops these tools, so they detach cleanly.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
            true
        }
        Some(s) => s.success(),
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    (started, err)
}

fn unique_dir(tool: &str) -> PathBuf {
    Path::new("/sys/fs/bpf").join(format!("bpfkit_lt_{tool}_{}", std::process::id()))
}

/// `loadall … autoattach`: every pinned entry is a link (attached from its section name) or a
/// program whose section names no target; returns the number of links.
fn autoattach_links(tool: &str, obj: &Path) -> usize {
    let dir = unique_dir(&format!("{tool}_aa"));
    let out = bpfkit()
        .args(["prog", "loadall"])
        .arg(obj)
        .arg(&dir)
        .arg("autoattach")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let mut links = 0;
    let mut progs = 0;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.filter_map(|e| e.ok()) {
            if bpfkit::Link::from_pin(e.path()).is_ok() {
                links += 1;
            } else if bpfkit::Program::from_pin(e.path()).is_ok() {
                progs += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{tool}: loadall autoattach failed:\n{err}"
    );
    assert!(links + progs > 0, "{tool}: autoattach pinned nothing");
    links
}

#[test]
fn loadall_loads_every_libbpf_tools_object_whose_tool_starts() {
    let tmp = std::env::temp_dir().join(format!("bpfkit-libbpf-tools-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut report = Vec::new();
    let mut loaded = 0;
    for tool in TOOLS {
        let bin = std::fs::read(format!("/usr/sbin/{tool}"))
            .unwrap_or_else(|e| panic!("/usr/sbin/{tool} (apt install libbpf-tools): {e}"));
        let objects = bpfkit_elf::extract_embedded_objects(&bin);
        assert!(!objects.is_empty(), "{tool}: no embedded BPF object found");
        let (starts, tool_err) = original_starts(tool);
        for (i, bytes) in objects.iter().enumerate() {
            let obj = tmp.join(format!("{tool}{i}.bpf.o"));
            std::fs::write(&obj, bytes).unwrap();
            let dir = unique_dir(tool);
            let out = bpfkit()
                .args(["prog", "loadall"])
                .arg(&obj)
                .arg(&dir)
                .output()
                .unwrap();
            let ok = out.status.success();
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            let pinned: Vec<String> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .collect()
                })
                .unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            let mut links = 0;
            if starts {
                assert!(
                    ok,
                    "{tool}: the original starts but bpfkit prog loadall failed:\n{err}"
                );
                assert!(!pinned.is_empty(), "{tool}: loadall pinned nothing");
                loaded += 1;
                links = autoattach_links(tool, &obj);
            }
            report.push(format!(
                "{tool}: original {} / loadall {} ({} programs pinned; autoattach: {links} links){}",
                if starts { "starts" } else { "fails" },
                if ok { "ok" } else { "fails" },
                pinned.len(),
                if starts {
                    String::new()
                } else {
                    format!(" — tool said: {}", tool_err.lines().last().unwrap_or(""))
                }
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("{}", report.join("\n"));
    assert!(loaded >= 1, "no tool started here:\n{}", report.join("\n"));
}

#[test]
fn load_pins_the_first_program_and_bad_input_fails_with_one_line() {
    let dir = unique_dir("load");
    bpfkit::create_pin_dir(&dir).unwrap();
    let bin = std::fs::read("/usr/sbin/opensnoop").unwrap();
    let objects = bpfkit_elf::extract_embedded_objects(&bin);
    let obj = std::env::temp_dir().join(format!("bpfkit-load-{}.bpf.o", std::process::id()));
    std::fs::write(&obj, objects[0]).unwrap();
    let pin = dir.join("first");
    let out = bpfkit()
        .args(["prog", "load"])
        .arg(&obj)
        .arg(&pin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prog = bpfkit::Program::from_pin(&pin).unwrap();
    let id = prog.id().unwrap();
    drop(prog);

    std::fs::write(&obj, b"\x7fELF not really").unwrap();
    let out = bpfkit()
        .args(["prog", "loadall"])
        .arg(&obj)
        .arg(dir.join("x"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: failed to open object file"),
        "{err}"
    );
    let out = bpfkit().args(["prog", "loadall"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage error");

    std::fs::remove_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(&obj);
    // Unpinned and closed: the kernel frees the program.
    let start = Instant::now();
    while bpfkit::Program::from_id(id).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "program {id} still alive"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
