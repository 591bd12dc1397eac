//! `bpfkit prog load OBJ PATH` and `bpfkit prog loadall OBJ PINDIR` as bpftool has them:
//! load every program of a clang-built object (through `bpfkit::ObjectBuilder`) and pin the
//! first program at PATH, or each program at PINDIR/NAME.
//!
//! Options after the paths, as bpftool spells them: `type TYPE` (program type for every
//! program, e.g. `tracepoint`), `map { idx IDX | name NAME } { id MAP_ID | pinned FILE }`
//! (use an existing map instead of creating that one), `pinmaps MAP_DIR` (pin every map under MAP_DIR, with the '.'
//! of data map names turned into '_' because bpffs refuses it) and, for loadall,
//! `autoattach` (attach each program its section names a target for, and pin the link in its
//! place). Programs the kernel refuses for a missing feature or policy (fentry under lockdown
//! …) are left out with a warning, as libbpf-tools leave them out when they pick a fallback.

use std::path::{Path, PathBuf};

use bpfkit::object::AttachOutcome;
use bpfkit::{ObjectBuilder, ProgramType};

use crate::{CliError, Global};

const HELP: &str = "Usage: bpfkit prog load    OBJ PATH   [type TYPE] [map MAP_SEL MAP]... [pinmaps MAP_DIR]
       bpfkit prog loadall OBJ PINDIR [type TYPE] [map MAP_SEL MAP]... [pinmaps MAP_DIR] [autoattach]

       MAP_SEL := { idx IDX | name NAME }
       MAP     := { id MAP_ID | pinned FILE }";

fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(format!("{}\n{HELP}", msg.into()))
}

struct Opts {
    obj: PathBuf,
    path: PathBuf,
    prog_type: Option<ProgramType>,
    pinmaps: Option<PathBuf>,
    autoattach: bool,
    reuse: Vec<(MapSel, MapRef)>,
}

/// Which of the object's maps `map …` replaces.
enum MapSel {
    Idx(usize),
    Name(String),
}

/// The existing map that replaces it.
enum MapRef {
    Id(u32),
    Pinned(PathBuf),
}

fn parse(words: Vec<String>, all: bool) -> Result<Opts, CliError> {
    let mut it = words.into_iter();
    let obj = it.next().ok_or_else(|| usage("expected an object file"))?;
    let path = it.next().ok_or_else(|| {
        usage(if all {
            "expected a pin directory"
        } else {
            "expected a pin path"
        })
    })?;
    let mut opts = Opts {
        obj: obj.into(),
        path: path.into(),
        prog_type: None,
        pinmaps: None,
        autoattach: false,
        reuse: Vec::new(),
    };
    while let Some(w) = it.next() {
        match w.as_str() {
            "type" => {
                let t = it
                    .next()
                    .ok_or_else(|| usage("type: expected a program type"))?;
                let parsed = ProgramType::from_name(&t)
                    .ok_or_else(|| usage(format!("unknown program type '{t}'")))?;
                opts.prog_type = Some(parsed);
            }
            "pinmaps" => {
                let d = it
                    .next()
                    .ok_or_else(|| usage("pinmaps: expected a directory"))?;
                opts.pinmaps = Some(d.into());
            }
            "map" => {
                let mut next = |what: &str| {
                    it.next()
                        .ok_or_else(|| usage(format!("map: expected {what}")))
                };
                let sel = match next("idx or name")?.as_str() {
                    "idx" => {
                        let v = next("a map index")?;
                        MapSel::Idx(
                            v.parse()
                                .map_err(|_| usage(format!("invalid map index '{v}'")))?,
                        )
                    }
                    "name" => MapSel::Name(next("a map name")?),
                    other => {
                        return Err(usage(format!("map: expected idx or name, not '{other}'")))
                    }
                };
                let target = match next("id or pinned")?.as_str() {
                    "id" => {
                        let v = next("a map id")?;
                        MapRef::Id(
                            v.parse()
                                .map_err(|_| usage(format!("invalid map id '{v}'")))?,
                        )
                    }
                    "pinned" => MapRef::Pinned(next("a pinned file")?.into()),
                    other => {
                        return Err(usage(format!("map: expected id or pinned, not '{other}'")))
                    }
                };
                opts.reuse.push((sel, target));
            }
            "autoattach" if all => opts.autoattach = true,
            other => return Err(usage(format!("unexpected argument '{other}'"))),
        }
    }
    Ok(opts)
}

/// bpffs refuses '.', which libbpf's data map names (`execsnoo.rodata`) contain.
fn pin_name(name: &str) -> String {
    name.replace('.', "_")
}

fn failed(msg: String) -> CliError {
    CliError::Failed(msg)
}

fn pin_here(
    path: &Path,
    what: &str,
    pin: impl FnOnce(&Path) -> bpfkit::Result<()>,
) -> Result<(), CliError> {
    pin(path).map_err(|e| failed(format!("can't pin {what} at {}: {e}", path.display())))
}

/// Runs `prog load` (`all == false`) or `prog loadall`.
pub fn run(g: &Global, all: bool, words: Vec<String>) -> Result<(), CliError> {
    if words.first().is_some_and(|w| w == "help") {
        println!("{HELP}");
        return Ok(());
    }
    let opts = parse(words, all)?;
    let mut b = ObjectBuilder::open_file(&opts.obj).map_err(|e| {
        failed(format!(
            "failed to open object file {}: {e}",
            opts.obj.display()
        ))
    })?;
    b.skip_unsupported(true);
    if g.debug {
        // bpftool's -d asks libbpf for the instruction trace, the states and the statistics.
        b.log_level(7);
    }
    for (sel, target) in &opts.reuse {
        let name = match sel {
            MapSel::Name(n) => n.clone(),
            MapSel::Idx(i) => b
                .object()
                .maps
                .iter()
                .filter(|m| m.origin != bpfkit_elf::MapOrigin::InnerTemplate)
                .nth(*i)
                .map(|m| m.name.clone())
                .ok_or_else(|| failed(format!("the object has no map with index {i}")))?,
        };
        let map = match target {
            MapRef::Id(id) => bpfkit::Map::from_id(*id),
            MapRef::Pinned(p) => bpfkit::Map::from_pin(p),
        }
        .map_err(|e| failed(format!("can't open the map to reuse for '{name}': {e}")))?;
        b.reuse_map(&name, map)?;
    }
    if let Some(t) = opts.prog_type {
        let names: Vec<String> = b.object().programs.iter().map(|p| p.name.clone()).collect();
        for n in names {
            b.set_program_type(&n, t, None)?;
        }
    }
    let obj = b
        .load()
        .map_err(|e| failed(format!("failed to load object file: {e}")))?;
    if g.debug {
        for p in obj.programs() {
            eprintln!("verifier log of program {}:", p.name);
            eprintln!("{}", p.program.verifier_log());
        }
    }
    for (prog, why) in obj.skipped() {
        eprintln!("Warning: program '{prog}' left out: {why}");
    }
    if obj.programs().is_empty() {
        return Err(failed(
            "object file doesn't contain any program it could load".into(),
        ));
    }
    if let Some(dir) = &opts.pinmaps {
        bpfkit::create_pin_dir(dir)?;
        for m in obj.maps() {
            // A map pinned by name is pinned already, where the object asked.
            if m.pinned_at.is_some() {
                continue;
            }
            let path = dir.join(pin_name(&m.name));
            pin_here(&path, &format!("map {}", m.name), |p| m.map.pin(p))?;
        }
    }
    if !all {
        let first = &obj.programs()[0];
        pin_here(&opts.path, &format!("program {}", first.name), |p| {
            first.program.pin(p)
        })?;
        if g.debug {
            eprintln!("pinned program {} at {}", first.name, opts.path.display());
        }
        return Ok(());
    }
    bpfkit::create_pin_dir(&opts.path)?;
    let mut pinned = Vec::new();
    let result = pin_all(&obj, &opts, &mut pinned);
    if result.is_err() {
        // Leave nothing half-done behind: the pins made so far go.
        for p in &pinned {
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

fn pin_all(obj: &bpfkit::Object, opts: &Opts, pinned: &mut Vec<PathBuf>) -> Result<(), CliError> {
    for p in obj.programs() {
        let path = opts.path.join(pin_name(&p.name));
        if opts.autoattach {
            match obj.attach_program(&p.name) {
                Ok(AttachOutcome::Attached(link)) => {
                    pin_here(&path, &format!("link of program {}", p.name), |at| {
                        link.pin(at)
                    })?;
                    pinned.push(path);
                    continue;
                }
                Ok(AttachOutcome::NotAutoAttachable) => {}
                // The kernel lacks the attach kind (no kprobes …): pin the program unattached.
                Err(e @ (bpfkit::Error::NotSupported { .. } | bpfkit::Error::Refused { .. })) => {
                    eprintln!("Warning: program '{}' not attached: {e}", p.name);
                }
                Err(e) => {
                    return Err(failed(format!(
                        "failed to attach program '{}': {e}",
                        p.name
                    )))
                }
            }
        }
        pin_here(&path, &format!("program {}", p.name), |at| {
            p.program.pin(at)
        })?;
        pinned.push(path);
    }
    Ok(())
}
