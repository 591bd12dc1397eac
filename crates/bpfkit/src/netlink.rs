//! rtnetlink requests for the XDP and TC attach paths: interface lookup, `IFLA_XDP`, clsact
//! qdiscs and cls_bpf filters.
//!
//! Messages are built and parsed with `netlink-packet-route` and sent over a `netlink-sys`
//! socket. Only the extended-ack error text (`NLMSGERR_ATTR_MSG`) is read by hand: the
//! crate's `ErrorMessage` keeps the bytes after the errno but does not decode their TLVs,
//! and that text is what tells a user *why* the kernel refused (e.g. "native and generic XDP
//! can't be active at the same time").

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::Socket;

use crate::error::{Error, Result};

/// An rtnetlink socket in the calling thread's network namespace.
pub(crate) struct RtNetlink {
    sock: Socket,
    seq: u32,
}

fn io_err(what: &str, source: io::Error) -> Error {
    Error::Netlink {
        what: what.to_string(),
        source,
        detail: String::new(),
    }
}

/// `NETLINK_EXT_ACK` (socket option 11 of `SOL_NETLINK`) asks for the error text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Reads the `NLMSGERR_ATTR_MSG` string out of an `NLMSG_ERROR` message. Layout: 16-byte
/// nlmsghdr, i32 error, the echoed request header (16 bytes with `NLM_F_CAPPED`, else the
/// whole request), then TLVs (u16 len, u16 type, value padded to 4).
fn ext_ack_message(raw: &[u8]) -> String {
    let get_u16 = |b: &[u8], at: usize| -> Option<u16> {
        Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
    };
    let get_u32 = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let Some(flags) = get_u16(raw, 6) else {
        return String::new();
    };
    // NLM_F_CAPPED (0x100): the echoed request is only its header.
    let echoed = if flags & 0x100 != 0 {
        16
    } else {
        get_u32(raw, 20).map_or(16, |l| l as usize)
    };
    let mut at = 16 + 4 + ((echoed + 3) & !3);
    while let (Some(len), Some(ty)) = (get_u16(raw, at), get_u16(raw, at + 2)) {
        let len = len as usize;
        if len < 4 {
            break;
        }
        if ty & 0x3fff == NLMSGERR_ATTR_MSG {
            let v = raw.get(at + 4..at + len).unwrap_or(&[]);
            let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
            return String::from_utf8_lossy(&v[..end]).trim().to_string();
        }
        at += (len + 3) & !3;
    }
    String::new()
}

impl RtNetlink {
    /// Opens and binds a socket, asking the kernel for extended-ack error text.
    pub(crate) fn open() -> Result<RtNetlink> {
        let mut sock =
            Socket::new(NETLINK_ROUTE).map_err(|e| io_err("opening an rtnetlink socket", e))?;
        sock.bind_auto()
            .map_err(|e| io_err("binding an rtnetlink socket", e))?;
        // Old kernels lack ext-ack; the errno alone is still reported then.
        let _ = sock.set_ext_ack(true);
        Ok(RtNetlink { sock, seq: 1 })
    }

    /// Sends one request and collects the replies: for a dump, every message up to
    /// `NLMSG_DONE`; otherwise up to the acknowledgement. `what` names the request in errors.
    pub(crate) fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(|e| io_err(what, e))?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full().map_err(|e| io_err(what, e))?;
            // One datagram may carry several messages (a dump does); `deserialize` reads
            // one, so walk them by their nlmsg_len.
            let mut off = 0usize;
            while off + 16 <= data.len() {
                let len = data
                    .get(off..off + 4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_ne_bytes)
                    .unwrap_or(0) as usize;
                if len < 16 || off + len > data.len() {
                    break;
                }
                let raw = &data[off..off + len];
                off += (len + 3) & !3;
                let parsed =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(raw).map_err(|e| {
                        Error::Netlink {
                            what: what.to_string(),
                            source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
                            detail: "could not decode the kernel's reply".into(),
                        }
                    })?;
                if parsed.header.sequence_number != seq {
                    continue;
                }
                match parsed.payload {
                    NetlinkPayload::Error(e) => match e.code {
                        None => {
                            if !dump {
                                return Ok(out);
                            }
                        }
                        Some(code) => {
                            return Err(Error::Netlink {
                                what: what.to_string(),
                                source: io::Error::from_raw_os_error(-code.get()),
                                detail: ext_ack_message(raw),
                            })
                        }
                    },
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    /// Looks up an interface by name (`RTM_GETLINK` with `IFLA_IFNAME`).
    pub(crate) fn link_by_name(&mut self, name: &str) -> Result<LinkMessage> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let what = format!("looking up interface `{name}`");
        let replies = self
            .request(RouteNetlinkMessage::GetLink(m), 0, &what)
            .map_err(|e| match e {
                Error::Netlink { source, .. } if source.raw_os_error() == Some(libc::ENODEV) => {
                    Error::InvalidArgument(format!(
                        "interface `{name}` does not exist (see `ip link show`)"
                    ))
                }
                e => e,
            })?;
        replies
            .into_iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .ok_or_else(|| Error::InvalidArgument(format!("interface `{name}` does not exist")))
    }

    /// Every interface (`RTM_GETLINK` dump).
    pub(crate) fn links(&mut self) -> Result<Vec<LinkMessage>> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "listing interfaces",
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .collect())
    }
}

/// The name of an interface message.
pub(crate) fn link_name(l: &LinkMessage) -> String {
    l.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// An interface: its index and name, in the calling thread's network namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// ifindex.
    pub index: u32,
    /// Name.
    pub name: String,
}

impl Interface {
    /// Looks up an interface by name; a missing one is one clear error.
    pub fn by_name(name: &str) -> Result<Interface> {
        if name.is_empty() || name.len() >= 16 || name.contains('/') {
            return Err(Error::InvalidArgument(format!(
                "`{name}` is not a valid interface name"
            )));
        }
        let l = RtNetlink::open()?.link_by_name(name)?;
        Ok(Interface {
            index: l.header.index,
            name: link_name(&l),
        })
    }

    /// Every interface, by index.
    pub fn all() -> Result<Vec<Interface>> {
        let mut v: Vec<Interface> = RtNetlink::open()?
            .links()?
            .iter()
            .map(|l| Interface {
                index: l.header.index,
                name: link_name(l),
            })
            .collect();
        v.sort_by_key(|i| i.index);
        Ok(v)
    }
}

/// Refuses a program whose type does not fit a hook, before the kernel answers a bare
/// `EINVAL`. Shared by the XDP, TC, socket and cgroup modules.
pub(crate) fn expect_prog_type(
    prog: &crate::Program,
    allowed: &[crate::ProgramType],
    hook: &str,
) -> Result<()> {
    if allowed.contains(&prog.prog_type()) {
        return Ok(());
    }
    let want: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
    Err(Error::InvalidArgument(format!(
        "program `{}` is of type {}, but {hook} needs a {} program",
        prog.name(),
        prog.prog_type(),
        want.join(" or ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_ack_text_is_found_after_a_capped_header() {
        let mut raw = vec![0u8; 16];
        raw[6..8].copy_from_slice(&0x100u16.to_ne_bytes());
        raw.extend_from_slice(&(-22i32).to_ne_bytes());
        raw.extend_from_slice(&[0u8; 16]);
        let msg = b"bad thing\0";
        let tlv_len = 4 + msg.len();
        raw.extend_from_slice(&(tlv_len as u16).to_ne_bytes());
        raw.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        raw.extend_from_slice(msg);
        assert_eq!(ext_ack_message(&raw), "bad thing");
        assert_eq!(ext_ack_message(&raw[..10]), "");
    }
}
