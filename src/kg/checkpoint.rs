//! The checkpoint file format: a versioned header, named f32 tensors, and a checksum.
//!
//! A training run that takes an hour must survive a kill, and a model served for months must be
//! recognisable as what it claims to be. The format is deliberately plain so other tools can read
//! it: the magic `STKCKPT\0`, a little-endian `u32` format version, a `u64` header length, a JSON
//! header (free-form `meta` written by the trainer — config, id maps, metrics, epoch — plus the
//! tensor directory), the tensors as little-endian `f32` in row-major order, and a trailing
//! SHA-256 of everything before it, so a truncated or corrupted file is refused rather than
//! half-loaded. Writes go to a temporary file in the same folder that is synced and renamed over
//! the target: a crash leaves the old checkpoint or the new one, never a mix.

use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KgError;

const MAGIC: &[u8; 8] = b"STKCKPT\0";
/// The format version this build writes; files with a larger version are refused.
pub const FORMAT_VERSION: u32 = 1;

/// A named, shaped array.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Data,
}

/// The values of a tensor: floats (embeddings, optimizer state) or ids (triples).
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    U32(Vec<u32>),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::U32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn dtype(&self) -> &'static str {
        match self {
            Data::F32(_) => "f32",
            Data::U32(_) => "u32",
        }
    }
}

impl Tensor {
    /// A float tensor.
    pub fn f32(name: &str, shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        Tensor {
            name: name.into(),
            shape,
            data: Data::F32(data),
        }
    }

    /// An id tensor.
    pub fn u32(name: &str, shape: Vec<usize>, data: Vec<u32>) -> Tensor {
        Tensor {
            name: name.into(),
            shape,
            data: Data::U32(data),
        }
    }
}

/// Header metadata plus tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub meta: serde_json::Value,
    pub tensors: Vec<Tensor>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    meta: serde_json::Value,
    tensors: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    name: String,
    shape: Vec<usize>,
    #[serde(default = "default_dtype")]
    dtype: String,
}

fn default_dtype() -> String {
    "f32".into()
}

impl Checkpoint {
    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Writes atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), KgError> {
        for t in &self.tensors {
            let n: usize = t.shape.iter().product();
            if n != t.data.len() {
                return Err(KgError::Checkpoint {
                    path: path.into(),
                    message: format!(
                        "tensor {} has shape {:?} but {} values",
                        t.name,
                        t.shape,
                        t.data.len()
                    ),
                });
            }
        }
        let header = Header {
            meta: self.meta.clone(),
            tensors: self
                .tensors
                .iter()
                .map(|t| Entry {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    dtype: t.data.dtype().into(),
                })
                .collect(),
        };
        let header = serde_json::to_vec(&header).map_err(|e| KgError::Checkpoint {
            path: path.into(),
            message: e.to_string(),
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| KgError::io(dir, e))?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let io = |e| KgError::io(&tmp, e);
        let file = std::fs::File::create(&tmp).map_err(io)?;
        let mut out = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
        };
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
        out.write_all(&(header.len() as u64).to_le_bytes())
            .map_err(io)?;
        out.write_all(&header).map_err(io)?;
        let mut buf = Vec::with_capacity(1 << 16);
        for t in &self.tensors {
            match &t.data {
                Data::F32(v) => {
                    for chunk in v.chunks(1 << 14) {
                        buf.clear();
                        buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                        out.write_all(&buf).map_err(io)?;
                    }
                }
                Data::U32(v) => {
                    for chunk in v.chunks(1 << 14) {
                        buf.clear();
                        buf.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
                        out.write_all(&buf).map_err(io)?;
                    }
                }
            }
        }
        let digest = out.hasher.finalize();
        let mut inner = out.inner;
        inner.write_all(&digest).map_err(io)?;
        let file = inner.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| KgError::io(path, e))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Persist the rename itself; best effort on filesystems that refuse to open folders.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Reads and verifies a checkpoint.
    pub fn load(path: &Path) -> Result<Checkpoint, KgError> {
        let bytes = std::fs::read(path).map_err(|e| KgError::io(path, e))?;
        let bad = |message: String| KgError::Checkpoint {
            path: path.into(),
            message,
        };
        if bytes.len() < 8 + 4 + 8 + 32 || &bytes[..8] != MAGIC {
            return Err(bad("not a Stocktake checkpoint (bad magic bytes)".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version > FORMAT_VERSION {
            return Err(bad(format!(
                "format version {version} is newer than this build reads ({FORMAT_VERSION}); upgrade Stocktake"
            )));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(bad(
                "checksum mismatch: the file is truncated or corrupted".into()
            ));
        }
        let header_len = u64::from_le_bytes(body[12..20].try_into().expect("8 bytes")) as usize;
        let header_end = 20usize
            .checked_add(header_len)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| bad("header length runs past the end of the file".into()))?;
        let header: Header = serde_json::from_slice(&body[20..header_end])
            .map_err(|e| bad(format!("unreadable header: {e}")))?;
        let mut data = &body[header_end..];
        let mut tensors = Vec::with_capacity(header.tensors.len());
        for entry in header.tensors {
            let n: usize = entry.shape.iter().product();
            let need = n * 4;
            if data.len() < need {
                return Err(bad(format!("tensor {} is truncated", entry.name)));
            }
            let words = data[..need]
                .chunks_exact(4)
                .map(|w| <[u8; 4]>::try_from(w).expect("4 bytes"));
            let values = match entry.dtype.as_str() {
                "f32" => Data::F32(words.map(f32::from_le_bytes).collect()),
                "u32" => Data::U32(words.map(u32::from_le_bytes).collect()),
                other => {
                    return Err(bad(format!(
                        "tensor {} has unknown dtype {other:?}",
                        entry.name
                    )))
                }
            };
            data = &data[need..];
            tensors.push(Tensor {
                name: entry.name,
                shape: entry.shape,
                data: values,
            });
        }
        if !data.is_empty() {
            return Err(bad(format!("{} unexpected trailing bytes", data.len())));
        }
        Ok(Checkpoint {
            meta: header.meta,
            tensors,
        })
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            meta: serde_json::json!({"epoch": 3, "names": ["a", "b"]}),
            tensors: vec![
                Tensor::f32(
                    "entities",
                    vec![2, 3],
                    vec![1.0, -2.5, 3.25, f32::MIN_POSITIVE, 0.0, -0.0],
                ),
                Tensor::f32("relations", vec![1, 3], vec![0.5, 0.25, 0.125]),
                Tensor::u32("triples", vec![1, 3], vec![0, u32::MAX, 7]),
            ],
        }
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.ckpt");
        let ckpt = sample();
        ckpt.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back, ckpt);
        let bits = |c: &Checkpoint| -> Vec<u32> {
            match &c.tensors[0].data {
                Data::F32(v) => v.iter().map(|v| v.to_bits()).collect(),
                Data::U32(_) => unreachable!(),
            }
        };
        assert_eq!(bits(&back), bits(&ckpt), "-0.0 stays -0.0");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn corrupt_truncated_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.ckpt");
        sample().save(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 40] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
        std::fs::write(&path, &bytes[..n / 2]).unwrap();
        assert!(Checkpoint::load(&path).is_err());
        std::fs::write(
            &path,
            b"hello, this is not a checkpoint at all....................",
        )
        .unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("bad magic"), "{err}");
    }

    #[test]
    fn newer_versions_are_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.ckpt");
        sample().save(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        // Re-seal so only the version is wrong.
        let n = bytes.len();
        let digest = Sha256::digest(&bytes[..n - 32]);
        bytes[n - 32..].copy_from_slice(&digest);
        std::fs::write(&path, &bytes).unwrap();
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains("upgrade Stocktake"), "{err}");
    }
}
