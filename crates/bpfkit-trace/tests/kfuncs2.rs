//! `ksym()` / `usym()` symbolised at print time (in printf, variables, map keys and values),
//! `reg()`, `uaddr()`, `cgroup_path()` from cgroupfs, `debugf()` into the kernel's trace buffer,
//! `percpu_kaddr()`, BTF-typed raw tracepoint `args` with `socket_cookie()` and `skboutput()`,
//! `strncmp()`, `macaddr()`, `kptr()` / `uptr()`, `cgroupid()`, `--include` header constants
//! and `write_user()`'s safe-mode error. Runs on the real kernel.

use bpfkit_trace::driver::{self, Options};

/// Runs `script` with `opts` to completion; its exit code, stdout and stderr.
fn run_with(script: &str, opts: &Options) -> (Result<i32, String>, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let r = driver::run("stdin", script, opts, &mut out, &mut err);
    (
        r,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// Runs `script` to completion and returns its standard output.
fn run(script: &str) -> String {
    let (r, out, err) = run_with(script, &Options::default());
    assert_eq!(r, Ok(0), "stderr: {err}");
    out
}

#[test]
fn unresolved_user_symbols_print_as_hex_in_values_and_keys() {
    let s = run("begin { @=usym(1); @a=@; @k[usym(1)] = count(); }");
    assert_eq!(s, "Attached 1 probe\n\n\n@: 0x1\n@a: 0x1\n@k[0x1]: 1\n");
}

#[test]
fn kernel_symbols_resolve_in_printf_variables_keys_and_values() {
    let s = run("begin { $s = ksym(kaddr(\"do_nanosleep\")); printf(\"%s|%s\\n\", $s, ksym(1)); @v[ksym(kaddr(\"vfs_read\"))] = $s; }");
    assert_eq!(
        s,
        "Attached 1 probe\ndo_nanosleep|0x1\n\n\n@v[vfs_read]: do_nanosleep\n"
    );
}

#[test]
fn cgroup_path_names_this_process_cgroup2_path_first() {
    let own = std::fs::read_to_string("/proc/self/cgroup").expect("/proc/self/cgroup");
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return; // no cgroup2 hierarchy: nothing to compare with
    };
    let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    if !mounts
        .lines()
        .any(|l| l.split(' ').nth(2) == Some("cgroup2"))
    {
        return;
    }
    let s = run("begin { printf(\"path: %s\\n\", cgroup_path(cgroup)); @f = cgroup_path(cgroup, \"uni*\"); }");
    let line = s
        .lines()
        .find_map(|l| l.strip_prefix("path: "))
        .unwrap_or_else(|| panic!("no path line in {s:?}"));
    let first = line.split(',').next().unwrap_or("");
    assert_eq!(first, format!("unified:{path}"), "{line}");
    // The filter keeps the hierarchies whose names match, here the cgroup2 one.
    assert!(s.ends_with(&format!("\n@f: unified:{path}\n")), "{s}");
}

#[test]
fn debugf_writes_to_the_trace_buffer() {
    let marker = format!("kfuncs2_{}", std::process::id());
    let (r, out, err) = run_with(
        &format!("begin {{ debugf(\"{marker} %s %d %x\", \"a\", 1, 16); }}"),
        &Options::default(),
    );
    assert_eq!(r, Ok(0), "{out}{err}");
    let trace = [
        "/sys/kernel/tracing/trace",
        "/sys/kernel/debug/tracing/trace",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .expect("a readable trace buffer");
    let want = format!("bpf_trace_printk: {marker} a 1 10");
    let tail: Vec<&str> = trace.lines().rev().take(5).collect();
    assert!(
        trace.lines().any(|l| l.ends_with(&want)),
        "no {want:?} in the trace buffer, which ends with {tail:?}"
    );
}

#[test]
fn include_option_provides_header_constants() {
    if !std::path::Path::new("/usr/include/errno.h").is_file() {
        return; // no C headers installed (a test guest)
    }
    let opts = Options {
        includes: vec!["errno.h".to_string()],
        ..Options::default()
    };
    let (r, out, err) = run_with("begin { print(strerror(EPERM)); print(EAGAIN); }", &opts);
    assert_eq!(r, Ok(0), "{err}");
    assert_eq!(out, "Attached 1 probe\nOperation not permitted\n11\n\n\n");
    let opts = Options {
        includes: vec!["no/such/header.h".to_string()],
        ..Options::default()
    };
    let (r, _, _) = run_with("begin { exit(); }", &opts);
    assert_eq!(
        r,
        Err("fatal error: 'no/such/header.h' file not found".to_string())
    );
}

#[test]
fn write_user_needs_unsafe() {
    let (r, _, _) = run_with(
        "tracepoint:syscalls:sys_enter_openat { write_user(args.filename, \"x\", 1); }",
        &Options::default(),
    );
    let msg = r.expect_err("safe mode must refuse write_user()");
    assert!(
        msg.contains("ERROR: write_user() is unsafe. To use you need the --unsafe flag"),
        "{msg}"
    );
}

/// Asserts that `out` is the `Attached` line, then `line` once or more (probes on other CPUs
/// may fire before `exit()` takes effect), then the end-of-run blank lines.
fn assert_lines(out: &str, line: &str) {
    let body = out
        .strip_prefix("Attached 1 probe\n")
        .and_then(|b| b.strip_suffix("\n\n\n"))
        .unwrap_or_else(|| panic!("unexpected output {out:?}"));
    assert!(
        !body.is_empty() && body.split('\n').all(|l| l == line),
        "{out:?}"
    );
}

/// Runs `script` on a thread while this thread makes TCP traffic over loopback (and calls
/// `getpid`) until the script ends; its stdout.
fn run_with_traffic(script: &str) -> String {
    let script = script.to_string();
    let t = std::thread::spawn(move || run(&script));
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let mut c = std::net::TcpStream::connect(addr).expect("connect");
    let (mut a, _) = l.accept().expect("accept");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    use std::io::{Read, Write};
    let mut buf = vec![0u8; 1 << 16];
    while !t.is_finished() && std::time::Instant::now() < deadline {
        let _ = std::process::id();
        let _ = c.write_all(&[b'x'; 4096]);
        let _ = a.read(&mut buf);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    t.join().expect("tracer thread")
}

#[test]
fn raw_tracepoint_args_are_typed_from_btf() {
    let pid = std::process::id();
    let s = run_with_traffic(&format!(
        "rawtracepoint:sys_enter /pid == {pid} && args.id == 39/ {{ printf(\"getpid %d %d\\n\", args.id, args.regs->orig_ax); exit(); }}"
    ));
    assert_lines(&s, "getpid 39 39");
}

#[test]
fn socket_cookie_of_a_raw_tracepoint_socket() {
    let pid = std::process::id();
    let s = run_with_traffic(&format!(
        "rawtracepoint:tcp_rcv_space_adjust /pid == {pid}/ {{ $c = socket_cookie(args.sk); printf(\"cookie %d\\n\", $c > 0); exit(); }}"
    ));
    assert_lines(&s, "cookie 1");
}

#[test]
fn skboutput_writes_a_pcap_file() {
    let path = std::env::temp_dir().join(format!("kfuncs2_{}.pcap", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let s = run_with_traffic(&format!(
        "rawtracepoint:consume_skb {{ $r = skboutput(\"{}\", (struct sk_buff *)arg0, 20, 4); if ($r == 0) {{ printf(\"sent\\n\"); exit(); }} }}",
        path.display()
    ));
    assert_lines(&s, "sent");
    let b = std::fs::read(&path).expect("the pcap file");
    let _ = std::fs::remove_file(&path);
    // The header (nanosecond magic, raw IP), then records of 20 - 4 bytes (more than one
    // when another CPU sent a packet before exit() took effect).
    assert_eq!(b.get(..4), Some(0xa1b2_3c4du32.to_ne_bytes().as_slice()));
    assert_eq!(b.get(20..24), Some(101u32.to_ne_bytes().as_slice()));
    assert_eq!(
        b.get(32..40),
        Some(
            [16u32.to_ne_bytes(), 16u32.to_ne_bytes()]
                .concat()
                .as_slice()
        )
    );
    assert!(
        b.len() >= 24 + 32 && (b.len() - 24) % 32 == 0,
        "{} bytes",
        b.len()
    );
}

#[test]
fn usym_of_reg_ip_and_uaddr_name_functions() {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let Some(libc) = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so"))
        .map(str::to_string)
    else {
        return; // not linked against a shared libc: nothing to probe
    };
    let pid = std::process::id();
    let s = run_with_traffic(&format!(
        "uprobe:{libc}:getpid /pid == {pid}/ {{ printf(\"%s\\n\", usym(reg(\"ip\"))); exit(); }}"
    ));
    assert_lines(&s, "getpid");
    // uaddr() of another function of the same (position-independent) library.
    let s = run_with_traffic(&format!(
        "uprobe:{libc}:getpid /pid == {pid}/ {{ printf(\"%s\\n\", usym(uaddr(\"getppid\"))); exit(); }}"
    ));
    assert_lines(&s, "getppid");
    let (r, _, _) = run_with("begin { print(uaddr(\"main\")); }", &Options::default());
    let msg = r.expect_err("uaddr() needs a uprobe");
    assert!(
        msg.contains("ERROR: uaddr() can only be used in uprobes"),
        "{msg}"
    );
    let (r, _, _) = run_with("begin { print(reg(\"ip\")); }", &Options::default());
    let msg = r.expect_err("reg() needs a register context");
    assert!(
        msg.contains("ERROR: reg can not be used with \"begin\" probes"),
        "{msg}"
    );
}

#[test]
fn percpu_kaddr_reads_per_cpu_variables_or_says_why_not() {
    let script = "begin { $r = (struct rq *)percpu_kaddr(\"runqueues\", 0); $t = percpu_kaddr(\"runqueues\"); printf(\"%d %d\\n\", $r.cpu, $t != 0); }";
    let in_kallsyms = std::fs::read_to_string("/proc/kallsyms")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(2) == Some("runqueues"));
    let (r, out, err) = run_with(script, &Options::default());
    if in_kallsyms {
        assert_eq!(r, Ok(0), "{err}");
        assert_eq!(out, "Attached 1 probe\n0 1\n\n\n");
    } else {
        // The kernel resolves the variable through its own kallsyms, which lacks it.
        let msg = r.expect_err("the kernel cannot resolve runqueues");
        assert!(
            msg.contains("percpu_kaddr(): the kernel cannot resolve per-CPU variable 'runqueues'"),
            "{msg}"
        );
    }
}

#[test]
fn strncmp_compares_up_to_n_bytes() {
    let s = run("begin { printf(\"%d %d %d %d %d\\n\", strncmp(\"abc\", \"abd\", 2), strncmp(\"abc\", \"abd\", 3), strncmp(\"ab\", \"ab\", 10), strncmp(\"a\", \"ab\", 2), strncmp(\"\", \"x\", 0)); }");
    assert_eq!(s, "Attached 1 probe\n0 1 0 1 0\n\n\n");
}

#[test]
fn macaddr_kptr_uptr_and_cgroupid() {
    use std::os::unix::fs::MetadataExt;
    // The first six bytes of a kernel function, read back through macaddr().
    let s = run("begin { @m[macaddr(kaddr(\"vfs_read\"))] = count(); printf(\"%d %d\\n\", kptr(5), uptr(6)); }");
    let mac = s
        .lines()
        .find_map(|l| l.strip_prefix("@m[")?.strip_suffix("]: 1"))
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(mac.len(), 17, "{mac}");
    assert!(
        mac.split(':')
            .all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok()),
        "{mac}"
    );
    assert!(s.starts_with("Attached 1 probe\n5 6\n"), "{s}");
    let ino = std::fs::metadata("/proc").map(|m| m.ino()).expect("/proc");
    let s = run("begin { print(cgroupid(\"/proc\")); }");
    assert_eq!(s, format!("Attached 1 probe\n{ino}\n\n\n"));
    let (r, _, _) = run_with(
        "begin { print(cgroupid(\"/no/such/cgroup\")); }",
        &Options::default(),
    );
    let msg = r.expect_err("no such path");
    assert!(
        msg.contains(
            "ERROR: Failed to get cgroupid for '/no/such/cgroup': No such file or directory"
        ),
        "{msg}"
    );
}

#[test]
fn write_user_rewrites_a_path_before_the_kernel_reads_it() {
    let pid = std::process::id();
    let dir = std::env::temp_dir();
    let (a, b) = (
        dir.join(format!("bpfkit_wu_a_{pid}")),
        dir.join(format!("bpfkit_wu_b_{pid}")),
    );
    std::fs::write(&b, "b").expect("write the b file");
    let _ = std::fs::remove_file(&a);
    let a_text = a.display().to_string();
    // The byte to change: the `a` after `bpfkit_wu_`.
    let at = a_text.len() - format!("a_{pid}").len();
    let script = format!(
        "tracepoint:syscalls:sys_enter_openat /pid == {pid}/ {{ if (str(args.filename) == \"{a_text}\") {{ printf(\"ret %d\\n\", write_user(args.filename + {at}, \"b\", 1)); exit(); }} }}"
    );
    let opts = Options {
        allow_unsafe: true,
        ..Options::default()
    };
    let t = std::thread::spawn(move || run_with(&script, &opts));
    // Opening the absent `a` file succeeds once the probe turned its name into `b`'s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut opened = None;
    while !t.is_finished() && std::time::Instant::now() < deadline {
        if let Ok(mut f) = std::fs::File::open(&a) {
            let mut s = String::new();
            use std::io::Read;
            let _ = f.read_to_string(&mut s);
            opened = Some(s);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let (r, out, err) = t.join().expect("tracer thread");
    let _ = std::fs::remove_file(&b);
    // A kernel in lockdown refuses the helper; the verifier says so.
    if let Err(m) = &r {
        if m.contains("cannot use helper bpf_probe_write_user") {
            assert_eq!(opened, None);
            return;
        }
    }
    assert_eq!(r, Ok(0), "{err}");
    assert_lines(&out, "ret 0");
    assert_eq!(opened.as_deref(), Some("b"));
}
