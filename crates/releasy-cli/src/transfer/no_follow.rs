//! Opening the files a download writes without following a symbolic link: a link
//! planted where the CLI writes (another user's, in a shared directory such as `/tmp`)
//! must not turn the download into a write to the file it leads to.

use std::fs::OpenOptions;

/// `options`, set to refuse a symbolic link at the path being opened (`O_NOFOLLOW`;
/// the open fails). Elsewhere than on Unix, as they were.
pub fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    options
}
