//! The pipeline packages the upload handler unpacks (`server/util.go` of KFP 1.8.5): a tar.gz or a zip,
//! from which it takes `pipeline.yaml`, or else the first file, which must be a YAML file.

use std::io::Read;

/// Which archive kind, for the messages.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `1F 8B`.
    Tarball,
    /// `PK`.
    Zip,
}

impl Kind {
    fn noun(self) -> (&'static str, &'static str) {
        match self {
            Kind::Tarball => ("tarball", "tarball"),
            Kind::Zip => ("zip", "zip"),
        }
    }
}

/// The archive kind by magic bytes.
pub fn detect(data: &[u8]) -> Option<Kind> {
    if data.starts_with(b"PK") {
        Some(Kind::Zip)
    } else if data.starts_with(&[0x1f, 0x8b]) {
        Some(Kind::Tarball)
    } else {
        None
    }
}

/// The YAML inside a package; the error is the server's chain.
pub fn extract(kind: Kind, data: &[u8]) -> Result<Vec<u8>, String> {
    let (what, file) = kind.noun();
    let invalid = |detail: &str| {
        format!(
            "Invalid input error: Error extracting pipeline from the {what} file. Not a valid {file} file.: {detail}"
        )
    };
    let files = match kind {
        Kind::Tarball => tar_gz_files(data).map_err(|e| invalid(&e))?,
        Kind::Zip => zip_files(data).map_err(|e| invalid(&e))?,
    };
    if let Some((_, content)) = files.iter().find(|(name, _)| name == "pipeline.yaml") {
        return Ok(content.clone());
    }
    let Some((name, content)) = files.into_iter().next() else {
        return Err(invalid(match kind {
            Kind::Tarball => "EOF",
            Kind::Zip => "zip: not a valid zip file",
        }));
    };
    let lower = name.to_lowercase();
    if !(lower.ends_with(".yaml") || lower.ends_with(".yml")) {
        return Err(format!(
            "Invalid input error: Error extracting pipeline from the {what} file. Expecting a pipeline.yaml file inside the {what} file. Got: {name}"
        ));
    }
    Ok(content)
}

fn octal(field: &[u8]) -> Result<u64, String> {
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect::<String>()
        .trim()
        .to_owned();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(&text, 8).map_err(|_| "archive/tar: invalid header".to_owned())
}

fn tar_gz_files(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut tar)
        .map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    let mut offset = 0;
    while offset + 512 <= tar.len() {
        let header = &tar[offset..offset + 512];
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let stored_sum = octal(&header[148..156])?;
        let sum: u64 = header
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*b)
                }
            })
            .sum();
        if sum != stored_sum {
            return Err("archive/tar: invalid header".to_owned());
        }
        let mut name: String = header[..100]
            .iter()
            .take_while(|b| **b != 0)
            .map(|b| *b as char)
            .collect();
        let prefix: String = header[345..500]
            .iter()
            .take_while(|b| **b != 0)
            .map(|b| *b as char)
            .collect();
        if header[257..262] == *b"ustar" && !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        let size = usize::try_from(octal(&header[124..136])?)
            .map_err(|_| "archive/tar: invalid header")?;
        let start = offset + 512;
        let end = start
            .checked_add(size)
            .filter(|end| *end <= tar.len())
            .ok_or("unexpected EOF")?;
        let typeflag = header[156];
        if typeflag == b'0' || typeflag == 0 {
            files.push((name, tar[start..end].to_vec()));
        }
        offset = start + size.div_ceil(512) * 512;
    }
    if files.is_empty() && tar.len() < 512 {
        return Err("unexpected EOF".to_owned());
    }
    Ok(files)
}

fn u16_at(data: &[u8], at: usize) -> Result<usize, String> {
    data.get(at..at + 2)
        .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
        .ok_or_else(|| "zip: not a valid zip file".to_owned())
}

fn u32_at(data: &[u8], at: usize) -> Result<usize, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| "zip: not a valid zip file".to_owned())
}

fn zip_files(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let not_zip = || "zip: not a valid zip file".to_owned();
    let eocd = (0..data.len().saturating_sub(21))
        .rev()
        .find(|&i| data[i..].starts_with(&[0x50, 0x4b, 0x05, 0x06]))
        .ok_or_else(not_zip)?;
    let entries = u16_at(data, eocd + 10)?;
    let mut at = u32_at(data, eocd + 16)?;
    let mut files = Vec::new();
    for _ in 0..entries {
        if !data
            .get(at..)
            .is_some_and(|d| d.starts_with(&[0x50, 0x4b, 0x01, 0x02]))
        {
            return Err(not_zip());
        }
        let method = u16_at(data, at + 10)?;
        let crc = u32_at(data, at + 16)? as u32;
        let compressed = u32_at(data, at + 20)?;
        let name_len = u16_at(data, at + 28)?;
        let extra_len = u16_at(data, at + 30)?;
        let comment_len = u16_at(data, at + 32)?;
        let local = u32_at(data, at + 42)?;
        let name =
            String::from_utf8_lossy(data.get(at + 46..at + 46 + name_len).ok_or_else(not_zip)?)
                .into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if !data
            .get(local..)
            .is_some_and(|d| d.starts_with(&[0x50, 0x4b, 0x03, 0x04]))
        {
            return Err(not_zip());
        }
        let start = local + 30 + u16_at(data, local + 26)? + u16_at(data, local + 28)?;
        let raw = data.get(start..start + compressed).ok_or_else(not_zip)?;
        let content = match method {
            0 => raw.to_vec(),
            8 => {
                let mut out = Vec::new();
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut out)
                    .map_err(|e| e.to_string())?;
                out
            }
            _ => return Err("zip: unsupported compression algorithm".to_owned()),
        };
        let mut hasher = flate2::Crc::new();
        hasher.update(&content);
        if hasher.sum() != crc {
            return Err("zip: checksum error".to_owned());
        }
        if !name.ends_with('/') {
            files.push((name, content));
        }
    }
    Ok(files)
}
