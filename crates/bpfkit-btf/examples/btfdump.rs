//! `btfdump FILE [raw|json|c]`: dumps a BTF file to stdout (used by bench/btf and by hand).

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), format) = (args.next(), args.next()) else {
        eprintln!("usage: btfdump FILE [raw|json|c]");
        std::process::exit(2);
    };
    let result = bpfkit_btf::Btf::from_file(&path).and_then(|btf| {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match format.as_deref().unwrap_or("raw") {
            "raw" => btf.dump_raw(&mut out)?,
            "json" => btf.dump_raw_json(&mut out)?,
            "c" => btf.dump_c(&mut out)?,
            other => {
                eprintln!("Error: unknown format {other:?}");
                std::process::exit(2);
            }
        }
        out.flush()?;
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
