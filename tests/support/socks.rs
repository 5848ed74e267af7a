//! A SOCKS5 server for the tests (RFC 1928, with RFC 1929 username/password): it records
//! every request (credentials, address type, host, port) and then forwards, refuses with a
//! given reply code, or hangs, so the tests can see what a real proxy (Dante) cannot show.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One CONNECT request as the proxy received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    /// The username (None: the client chose no authentication).
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// 1 IPv4, 3 domain name, 4 IPv6.
    pub atyp: u8,
    /// The host: an IP in text, or the domain name exactly as sent.
    pub host: String,
    /// The port.
    pub port: u16,
}

/// What the proxy does with a request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Connects to the mapped address ("host:port" as requested, to a real address) or,
    /// for an IP request without a mapping, to the IP itself; then relays.
    Forward(HashMap<String, SocketAddr>),
    /// Answers with this reply code (1-8) and closes.
    Refuse(u8),
    /// Reads the greeting and then never answers.
    HangAfterGreeting,
}

/// A running test proxy.
pub struct TestProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every request, in order.
    pub requests: Arc<Mutex<Vec<ProxyRequest>>>,
    /// Connections accepted (requests or not).
    pub accepted: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestProxy {
    /// Starts on `bind` (port 0 for any) with `behaviour`.
    pub async fn start(bind: &str, behaviour: Behaviour) -> TestProxy {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(0));
        let (r, a) = (requests.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                *a.lock().unwrap() += 1;
                let (r, b) = (r.clone(), behaviour.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, b, r).await;
                });
            }
        });
        TestProxy {
            addr,
            requests,
            accepted,
            task,
        }
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut s: TcpStream,
    behaviour: Behaviour,
    log: Arc<Mutex<Vec<ProxyRequest>>>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    let mut methods = vec![0u8; head[1] as usize];
    s.read_exact(&mut methods).await?;
    if let Behaviour::HangAfterGreeting = behaviour {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return Ok(());
    }
    let (mut username, mut password) = (None, None);
    if methods.contains(&2) {
        s.write_all(&[5, 2]).await?;
        let mut v = [0u8; 2];
        s.read_exact(&mut v).await?;
        let mut u = vec![0u8; v[1] as usize];
        s.read_exact(&mut u).await?;
        let mut pl = [0u8; 1];
        s.read_exact(&mut pl).await?;
        let mut p = vec![0u8; pl[0] as usize];
        s.read_exact(&mut p).await?;
        username = Some(String::from_utf8_lossy(&u).into_owned());
        password = Some(String::from_utf8_lossy(&p).into_owned());
        s.write_all(&[1, 0]).await?;
    } else {
        s.write_all(&[5, 0]).await?;
    }
    let mut req = [0u8; 4];
    s.read_exact(&mut req).await?;
    let atyp = req[3];
    let host = match atyp {
        1 => {
            let mut b = [0u8; 4];
            s.read_exact(&mut b).await?;
            std::net::Ipv4Addr::from(b).to_string()
        }
        4 => {
            let mut b = [0u8; 16];
            s.read_exact(&mut b).await?;
            std::net::Ipv6Addr::from(b).to_string()
        }
        _ => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).await?;
            let mut b = vec![0u8; n[0] as usize];
            s.read_exact(&mut b).await?;
            String::from_utf8_lossy(&b).into_owned()
        }
    };
    let mut port = [0u8; 2];
    s.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    log.lock().unwrap().push(ProxyRequest {
        username,
        password,
        atyp,
        host: host.clone(),
        port,
    });
    let reply = |code: u8| [5, code, 0, 1, 0, 0, 0, 0, 0, 0];
    match behaviour {
        Behaviour::Refuse(code) => {
            s.write_all(&reply(code)).await?;
            Ok(())
        }
        Behaviour::Forward(map) => {
            let key = if atyp == 4 {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let target = match map.get(&key) {
                Some(t) => *t,
                None if atyp != 3 => key.parse().map_err(std::io::Error::other)?,
                None => {
                    s.write_all(&reply(4)).await?; // host unreachable
                    return Ok(());
                }
            };
            let Ok(mut out) = TcpStream::connect(target).await else {
                s.write_all(&reply(5)).await?; // connection refused
                return Ok(());
            };
            s.write_all(&reply(0)).await?;
            tokio::io::copy_bidirectional(&mut s, &mut out).await?;
            Ok(())
        }
        Behaviour::HangAfterGreeting => Ok(()),
    }
}
