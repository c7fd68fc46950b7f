//! `TCP_NODELAY` on PostgreSQL connections.
//!
//! sqlx 0.9.0 stopped setting it (transact-rs/sqlx#4335; fixed upstream by #4336, not in a
//! release yet). Without it, a write longer than one TCP segment (a batch insert) waits for the
//! server's delayed ACK, about 40 ms: filling a store over TCP ran at 6,600 events/s against
//! 88,000 over the Unix socket. sqlx does not hand out its socket, so a new connection asks the
//! server which ports it sees, and the socket of this process with that local port and that
//! peer port gets the option. Anything that does not match (a Unix socket, a proxy in between)
//! is left as it is.

use sqlx::PgConnection;

/// Sets `TCP_NODELAY` on the socket of `conn`; returns whether it found the socket.
pub(super) async fn enable(conn: &mut PgConnection) -> bool {
    let ports: Result<(Option<i32>, Option<i32>), _> =
        sqlx::query_as("SELECT inet_client_port(), inet_server_port()")
            .fetch_one(conn)
            .await;
    match ports {
        Ok((Some(local), Some(peer))) => match (u16::try_from(local), u16::try_from(peer)) {
            (Ok(local), Ok(peer)) => set_on_socket(local, peer),
            _ => false,
        },
        _ => false,
    }
}

/// Sets `TCP_NODELAY` on this process's TCP sockets from local port `local` to peer port
/// `peer`.
#[cfg(target_os = "linux")]
fn set_on_socket(local: u16, peer: u16) -> bool {
    let mut found = false;
    for fd in sockets(local, peer) {
        let one: libc::c_int = 1;
        // SAFETY: `one` outlives the call and its size is passed with it; on an fd that is
        // not a TCP socket (closed and reused meanwhile) the call fails and changes nothing.
        let set = unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                std::ptr::from_ref(&one).cast(),
                socklen::<libc::c_int>(),
            )
        };
        found |= set == 0;
    }
    found
}

/// This process's open sockets from local port `local` to peer port `peer`.
#[cfg(target_os = "linux")]
fn sockets(local: u16, peer: u16) -> Vec<libc::c_int> {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse().ok())
        .filter(|&fd| {
            port(fd, libc::getsockname) == Some(local) && port(fd, libc::getpeername) == Some(peer)
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn set_on_socket(_local: u16, _peer: u16) -> bool {
    false
}

#[cfg(target_os = "linux")]
type NameFn =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

/// The port of `fd`'s own (`getsockname`) or peer (`getpeername`) address, for IPv4 and IPv6
/// sockets; `None` for anything else.
#[cfg(target_os = "linux")]
fn port(fd: libc::c_int, name: NameFn) -> Option<u16> {
    // SAFETY: sockaddr_storage is plain data, valid when zeroed.
    let mut address: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = socklen::<libc::sockaddr_storage>();
    // SAFETY: the buffer and its length are this function's own; the call writes at most
    // `len` bytes into it.
    let ok = unsafe { name(fd, std::ptr::from_mut(&mut address).cast(), &mut len) } == 0;
    if !ok {
        return None;
    }
    match libc::c_int::from(address.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4: &libc::sockaddr_in = unsafe { &*std::ptr::from_ref(&address).cast() };
            Some(u16::from_be(v4.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6: &libc::sockaddr_in6 = unsafe { &*std::ptr::from_ref(&address).cast() };
            Some(u16::from_be(v6.sin6_port))
        }
        _ => None,
    }
}

#[cfg(target_os = "linux")]
fn socklen<T>() -> libc::socklen_t {
    libc::socklen_t::try_from(std::mem::size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use sqlx::Connection;

    use super::*;

    /// `TCP_NODELAY` of this process's socket from `local` to `peer`, if there is one.
    fn nodelay(local: u16, peer: u16) -> Option<bool> {
        let fd = *sockets(local, peer).first()?;
        let mut value: libc::c_int = 0;
        let mut len = socklen::<libc::c_int>();
        // SAFETY: the value and its length are this function's own.
        let ok = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                std::ptr::from_mut(&mut value).cast(),
                &mut len,
            )
        } == 0;
        ok.then_some(value != 0)
    }

    #[tokio::test]
    async fn a_postgres_connection_over_tcp_gets_nodelay() {
        // PostgreSQL only; `.ci/run` sets the URL, a machine without the server skips this.
        let Ok(url) = std::env::var("LIQBOT_TEST_DATABASE_URL") else {
            return;
        };
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let (local, peer): (Option<i32>, Option<i32>) =
            sqlx::query_as("SELECT inet_client_port(), inet_server_port()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let (Some(local), Some(peer)) = (local, peer) else {
            // A Unix-socket URL: no TCP, nothing to set.
            assert!(!enable(&mut conn).await);
            return;
        };
        let (local, peer) = (u16::try_from(local).unwrap(), u16::try_from(peer).unwrap());
        assert!(
            nodelay(local, peer).is_some(),
            "the connection's socket is found"
        );
        assert!(enable(&mut conn).await);
        assert_eq!(nodelay(local, peer), Some(true));
    }
}
