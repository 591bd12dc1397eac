//! `btf_find [FILE [N]]`: indexes a BTF file and looks up `struct task_struct`, printing its id
//! and size (the bpfkit side of bench/btf/run.sh, against libbpf's btf__parse +
//! btf__find_by_name_kind). The file is mapped read-only as bpfkit's loader maps vmlinux, so
//! its bytes are never copied. With N, repeats N times and prints the fastest repetition in
//! microseconds on stderr.

use std::time::Instant;

fn find(path: &str) -> bpfkit_btf::Result<(u32, u32)> {
    let btf = match bpfkit_sys::mmap::Mmap::map_file_readonly(std::path::Path::new(path)) {
        Ok(map) => bpfkit_btf::Btf::from_shared(std::sync::Arc::new(map))?,
        Err(_) => bpfkit_btf::Btf::from_file(path)?,
    };
    let id = btf
        .find_by_name_kind("task_struct", bpfkit_btf::Kind::Struct)
        .ok_or_else(|| bpfkit_btf::Error::Build("task_struct not found".into()))?;
    Ok((id, btf.type_by_id(id)?.size().unwrap_or(0)))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| bpfkit_btf::VMLINUX_PATH.to_string());
    let reps: Option<u32> = args.next().and_then(|n| n.parse().ok());
    let mut best = f64::MAX;
    let mut found = None;
    for _ in 0..reps.unwrap_or(1) {
        let t0 = Instant::now();
        match find(&path) {
            Ok(v) => found = Some(v),
            Err(e) => {
                eprintln!("Error: {e}");
                std::process::exit(1);
            }
        }
        best = best.min(t0.elapsed().as_secs_f64() * 1e6);
    }
    if let Some((id, size)) = found {
        println!("{id} {size}");
    }
    if reps.is_some() {
        eprintln!("{best:.1}");
    }
}
