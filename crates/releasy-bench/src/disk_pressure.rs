//! A competing writer on the server's disk: `dd` writing 64 MiB and syncing it
//! (`conv=fdatasync`), again and again, into the data directory's folder, for as long
//! as a scenario runs. Every commit the server makes then waits behind those syncs, as
//! on a host whose disk another service keeps busy.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::fail::{Context, Result};

/// The running `dd` loop; [`DiskPressure::stop`] ends it and removes its file.
#[derive(Debug)]
pub struct DiskPressure {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<u32>>,
    file: PathBuf,
}

impl DiskPressure {
    /// Starts writing into `dir`.
    pub fn start(dir: &Path) -> Self {
        let file = dir.join("disk-pressure.bin");
        let (stop, mut stopped) = oneshot::channel();
        let target = file.clone();
        let task = tokio::spawn(async move {
            let mut rounds = 0;
            loop {
                let mut dd = Command::new("dd")
                    .arg("if=/dev/zero")
                    .arg(format!("of={}", target.display()))
                    .args(["bs=1M", "count=64", "conv=fdatasync", "status=none"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .ctx("starting dd")?;
                tokio::select! {
                    _ = &mut stopped => {
                        let _ = dd.kill().await;
                        return Ok(rounds);
                    }
                    status = dd.wait() => {
                        let status = status.ctx("waiting for dd")?;
                        if !status.success() {
                            crate::fail::bail!("dd failed: {status}");
                        }
                        rounds += 1;
                    }
                }
            }
        });
        Self { stop, task, file }
    }

    /// Stops the loop and removes its file; the number of 64 MiB rounds it synced.
    ///
    /// # Errors
    /// `dd` could not run or failed.
    pub async fn stop(self) -> Result<u32> {
        let _ = self.stop.send(());
        let rounds = self.task.await.ctx("joining the dd loop")??;
        let _ = std::fs::remove_file(&self.file);
        Ok(rounds)
    }
}
