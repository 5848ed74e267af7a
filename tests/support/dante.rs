//! Dante (Debian's dante-server) as a real SOCKS5 server for tests and benches.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// True when `danted` is on the PATH.
pub fn available() -> bool {
    std::process::Command::new("sh")
        .args(["-c", "command -v danted"])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Dante (`danted`, Debian's dante-server) on loopback with a config the test writes:
/// clients on 127.0.0.121, connecting out from 127.0.0.122. Stopped when dropped.
pub struct Dante {
    child: std::process::Child,
    /// Where it takes clients.
    pub addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Dante {
    /// Starts it (panics if it cannot).
    pub fn start() -> Dante {
        let port = std::net::TcpListener::bind("127.0.0.121:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("dashnet-dante-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("danted.conf");
        std::fs::write(
            &conf,
            format!(
                "logoutput: stderr\n\
                 internal: 127.0.0.121 port = {port}\n\
                 external: 127.0.0.122\n\
                 socksmethod: none\n\
                 clientmethod: none\n\
                 user.privileged: root\n\
                 user.unprivileged: nobody\n\
                 client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
                 socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }}\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("danted.log")).unwrap();
        // Its own process group: danted forks workers, and all of them stop with it.
        let child = std::process::Command::new("danted")
            .args(["-f", conf.to_str().unwrap(), "-N", "1"])
            .process_group(0)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("danted runs (apt-get install dante-server)");
        let addr: SocketAddr = format!("127.0.0.121:{port}").parse().unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < end,
                "danted did not start: see {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Dante { child, addr, dir }
    }
}

impl Drop for Dante {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &group])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
