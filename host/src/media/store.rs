//! Generated images kept in `<data>/wasmgate-media/` and served at
//! `/media/<id>.<ext>`. The id is 128 random bits: knowing the URL is the
//! permission to read it, like a signed link, so the route needs no key and
//! links work in any client. Files are owner-only, and deleted past their
//! age or when the store outgrows its size limit (oldest first). Links
//! survive a restart: the file name is the whole state.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

pub struct MediaStore {
    dir: PathBuf,
    retention: Duration,
    max_bytes: u64,
    /// Serialises sweeps with each other (saves need no lock: fresh names).
    sweeping: Mutex<()>,
}

/// The extensions served, with their types.
const TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("webp", "image/webp"),
    ("gif", "image/gif"),
    ("bin", "application/octet-stream"),
];

impl MediaStore {
    pub fn open(dir: &Path, retention: Duration, max_bytes: u64) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        let store = MediaStore {
            dir: dir.to_path_buf(),
            retention,
            max_bytes,
            sweeping: Mutex::new(()),
        };
        store.sweep();
        Ok(store)
    }

    /// Stores `data` and returns its file name, `<32 hex>.<ext>`.
    pub fn save(&self, mime_type: &str, data: &[u8]) -> std::io::Result<String> {
        let ext = TYPES
            .iter()
            .find(|(_, mime)| mime.eq_ignore_ascii_case(mime_type))
            .map_or("bin", |(ext, _)| ext);
        let mut id = [0u8; 16];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut id)
            .map_err(|_| std::io::Error::other("no system randomness"))?;
        let name = format!(
            "{}.{ext}",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(self.dir.join(&name))?;
        file.write_all(data)?;
        if self.max_bytes > 0 {
            self.sweep();
        }
        Ok(name)
    }

    /// A stored file's bytes and type; `None` for a name that is not ours,
    /// unknown, or past its age.
    pub fn read(&self, name: &str) -> Option<(Vec<u8>, &'static str)> {
        let mime = Self::type_of(name)?;
        let path = self.dir.join(name);
        let modified = fs::metadata(&path).ok()?.modified().ok()?;
        if self.expired(modified) {
            let _ = fs::remove_file(&path);
            return None;
        }
        Some((fs::read(&path).ok()?, mime))
    }

    /// How long a link stays valid, for `Cache-Control`.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Deletes what is past its age, then the oldest until under the size limit.
    pub fn sweep(&self) {
        let Ok(_guard) = self.sweeping.lock() else {
            return;
        };
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let mut kept: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if Self::type_of(&name.to_string_lossy()).is_none() {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if self.expired(modified) {
                let _ = fs::remove_file(entry.path());
            } else {
                kept.push((modified, meta.len(), entry.path()));
            }
        }
        kept.sort();
        let mut total: u64 = kept.iter().map(|(_, len, _)| len).sum();
        for (_, len, path) in kept {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(path).is_ok() {
                total -= len;
            }
        }
    }

    fn expired(&self, modified: SystemTime) -> bool {
        modified.elapsed().is_ok_and(|age| age > self.retention)
    }

    /// The type of a well-formed name (`<32 hex>.<ext>`), else `None`.
    fn type_of(name: &str) -> Option<&'static str> {
        let (id, ext) = name.split_once('.')?;
        if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        TYPES.iter().find(|(e, _)| *e == ext).map(|(_, mime)| *mime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_files_are_private_unguessable_and_swept_by_age_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(dir.path(), Duration::from_secs(3600), 10).unwrap();
        let a = store.save("image/png", b"12345678").unwrap();
        assert!(a.ends_with(".png") && a.len() == 36, "{a}");
        assert_eq!(store.read(&a).unwrap(), (b"12345678".to_vec(), "image/png"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(&a))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner only");
        }
        assert!(store.read("../etc/passwd").is_none());
        assert!(store.read(&a.replace(".png", ".gif")).is_none());

        std::thread::sleep(Duration::from_millis(20));
        let b = store.save("image/jpeg", b"abcdefgh").unwrap();
        assert!(
            store.read(&a).is_none(),
            "the oldest went over the size limit"
        );
        assert!(store.read(&b).is_some());

        std::thread::sleep(Duration::from_millis(20));
        let store = MediaStore::open(dir.path(), Duration::ZERO, 1 << 20).unwrap();
        assert!(store.read(&b).is_none(), "past its age");
    }
}
