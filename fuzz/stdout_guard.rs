//! Stdout belongs to the protocol: a target's body must not write a byte there.
//!
//! On first use, fd 1 is pointed at a non-blocking pipe; after each input the
//! pipe must be empty. (libFuzzer reports on stderr, so it is not affected.)

use std::sync::OnceLock;

static PIPE: OnceLock<libc::c_int> = OnceLock::new();

fn read_end() -> libc::c_int {
    *PIPE.get_or_init(|| {
        let mut fds = [0; 2];
        // SAFETY: plain POSIX calls on fds this process owns.
        unsafe {
            assert_eq!(
                libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC),
                0
            );
            assert!(libc::dup2(fds[1], 1) >= 0);
        }
        fds[0]
    })
}

/// Runs `body`, then fails if it wrote anything to stdout.
pub fn checked(body: impl FnOnce()) {
    let fd = read_end();
    body();
    let mut buf = [0u8; 256];
    // SAFETY: reading into a local buffer from our own pipe.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n > 0 {
        panic!(
            "the target wrote to stdout: {:?}",
            String::from_utf8_lossy(&buf[..n as usize])
        );
    }
}
