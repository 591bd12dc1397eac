//! BPF iterators (`iter/<target>`, e.g. `bpf_map`, `task`): a tracing program run once per
//! kernel object while user space reads an iterator fd.

use std::fs::File;
use std::io::Read;

use bpfkit_btf::Kind;
use bpfkit_sys::link::{LinkCreate, LinkTarget};

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramSpec, ProgramType};

impl<'a> ProgramSpec<'a> {
    /// Makes this an `iter/<target>` spec: type tracing, attach type `trace_iter`, and the BTF
    /// id of `bpf_iter_<target>`.
    pub fn for_iter(mut self, target: &str) -> Result<Self> {
        self.prog_type = ProgramType::Tracing;
        self.expected_attach_type = Some(AttachType::TraceIter);
        self.attach_btf_id = Some(super::vmlinux_btf_id(
            &format!("bpf_iter_{target}"),
            Kind::Func,
            "iterator target",
        )?);
        Ok(self)
    }
}

impl Program {
    /// Creates an iterator link for a program loaded with [`ProgramSpec::for_iter`].
    pub fn attach_iter(&self) -> Result<Link> {
        super::require_type(self, &[ProgramType::Tracing], "iterator")?;
        let fd = bpfkit_sys::link::link_create(&LinkCreate {
            prog_fd: std::os::fd::AsRawFd::as_raw_fd(&self.fd()) as u32,
            target: 0,
            attach_type: AttachType::TraceIter.as_u32(),
            flags: 0,
            extra: LinkTarget::Plain,
        })?;
        Ok(Link::from_link_fd(fd, format!("iterator {}", self.name())))
    }
}

impl Link {
    /// Opens a new pass over an iterator link (`BPF_ITER_CREATE`): reading the file runs the
    /// program over the objects and returns what it wrote.
    pub fn open_iter(&self) -> Result<File> {
        let fd = self.link_fd().ok_or_else(|| {
            Error::InvalidArgument(format!("{} is not an iterator link", self.describe()))
        })?;
        Ok(File::from(bpfkit_sys::iter::iter_create(fd)?))
    }

    /// Runs one whole pass over an iterator link and returns its output.
    pub fn read_iter(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_iter()?
            .read_to_end(&mut out)
            .map_err(|source| Error::Io {
                path: format!("iterator of {}", self.describe()),
                source,
            })?;
        Ok(out)
    }
}
