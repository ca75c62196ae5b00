//! `linux.resources.blockIO`: the v1 blkio controller and the v2 io controller.
//!
//! Weights are 10..=1000 (0: unset). On v1 they go to `blkio.weight` or, with the BFQ
//! scheduler, `blkio.bfq.weight`. On v2 to `io.bfq.weight` unchanged when it exists, else to
//! `io.weight` converted linearly to [1, 10000] (crun's documented conversion); leaf weights
//! have no v2 equivalent. Throttles go to `blkio.throttle.*` (v1) or `io.max` (v2), where a
//! rate of 0 removes the limit.
use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::files::write;
use super::{field_err, Dir};
use crate::{Error, Result};

fn field(name: &str) -> String {
    format!("linux.resources.blockIO.{name}")
}

fn weight_ok(name: &str, w: Option<u16>) -> Result<()> {
    match w {
        Some(w) if w != 0 && !(10..=1000).contains(&w) => Err(Error::invalid(
            field(name),
            format!("{w} is outside 10..=1000"),
        )),
        _ => Ok(()),
    }
}

/// Host-independent checks.
pub(super) fn validate(b: &LinuxBlockIo) -> Result<()> {
    weight_ok("weight", b.weight())?;
    weight_ok("leafWeight", b.leaf_weight())?;
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        weight_ok(&format!("weightDevice[{i}].weight"), d.weight())?;
        weight_ok(&format!("weightDevice[{i}].leafWeight"), d.leaf_weight())?;
        device_ok(&format!("weightDevice[{i}]"), d.major(), d.minor())?;
    }
    for (name, list) in throttles(b) {
        for (i, t) in list.iter().enumerate() {
            device_ok(&format!("{name}[{i}]"), t.major(), t.minor())?;
        }
    }
    Ok(())
}

fn device_ok(name: &str, major: i64, minor: i64) -> Result<()> {
    if major < 0 || minor < 0 || major > u32::MAX as i64 || minor > u32::MAX as i64 {
        return Err(Error::invalid(
            field(name),
            format!("bad device {major}:{minor}"),
        ));
    }
    Ok(())
}

/// The throttle lists with their spec names.
fn throttles(b: &LinuxBlockIo) -> [(&'static str, &[LinuxThrottleDevice]); 4] {
    fn l(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or(&[])
    }
    [
        ("throttleReadBpsDevice", l(b.throttle_read_bps_device())),
        ("throttleWriteBpsDevice", l(b.throttle_write_bps_device())),
        ("throttleReadIOPSDevice", l(b.throttle_read_iops_device())),
        ("throttleWriteIOPSDevice", l(b.throttle_write_iops_device())),
    ]
}

/// `io.weight` for a blkio weight.
pub(super) fn weight_to_io(w: u16) -> u64 {
    1 + (u64::from(w) - 10) * 9999 / 990
}

fn nonzero(w: Option<u16>) -> Option<u16> {
    w.filter(|&w| w != 0)
}

pub(super) fn set(dir: Dir, b: &LinuxBlockIo) -> Result<()> {
    match dir {
        Dir::V1(d) => set_v1(d, b),
        Dir::V2(d) => set_v2(d, b),
    }
}

/// Writes to the first of `files` that exists.
fn write_first(dir: &Path, files: &[&str], value: String, name: &str) -> Result<()> {
    match files.iter().find(|f| dir.join(f).exists()) {
        Some(f) => write(dir, f, value).map_err(field_err(field(name))),
        None => Err(Error::invalid(
            field(name),
            format!("not supported here: none of {} exists", files.join(", ")),
        )),
    }
}

fn set_v1(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = nonzero(b.weight()) {
        write_first(
            dir,
            &["blkio.weight", "blkio.bfq.weight"],
            w.to_string(),
            "weight",
        )?;
    }
    if let Some(w) = nonzero(b.leaf_weight()) {
        write_first(dir, &["blkio.leaf_weight"], w.to_string(), "leafWeight")?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = nonzero(d.weight()) {
            let files = ["blkio.weight_device", "blkio.bfq.weight_device"];
            write_first(
                dir,
                &files,
                format!("{dev} {w}"),
                &format!("weightDevice[{i}].weight"),
            )?;
        }
        if let Some(w) = nonzero(d.leaf_weight()) {
            let name = format!("weightDevice[{i}].leafWeight");
            write_first(
                dir,
                &["blkio.leaf_weight_device"],
                format!("{dev} {w}"),
                &name,
            )?;
        }
    }
    let files = [
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.read_iops_device",
        "blkio.throttle.write_iops_device",
    ];
    for ((name, list), file) in throttles(b).into_iter().zip(files) {
        for t in list {
            let value = format!("{}:{} {}", t.major(), t.minor(), t.rate());
            write(dir, file, value).map_err(field_err(field(name)))?;
        }
    }
    Ok(())
}

fn set_v2(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if nonzero(b.leaf_weight()).is_some() {
        return Err(Error::invalid(
            field("leafWeight"),
            "not supported on cgroup v2",
        ));
    }
    let bfq = dir.join("io.bfq.weight").exists();
    let weight = |prefix: &str, w: u16| {
        if bfq {
            ("io.bfq.weight", format!("{prefix}{w}"))
        } else {
            ("io.weight", format!("{prefix}{}", weight_to_io(w)))
        }
    };
    if let Some(w) = nonzero(b.weight()) {
        let (file, value) = weight("default ", w);
        write(dir, file, value).map_err(field_err(field("weight")))?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if nonzero(d.leaf_weight()).is_some() {
            return Err(Error::invalid(
                field(&format!("weightDevice[{i}].leafWeight")),
                "not supported on cgroup v2",
            ));
        }
        if let Some(w) = nonzero(d.weight()) {
            let (file, value) = weight(&format!("{}:{} ", d.major(), d.minor()), w);
            write(dir, file, value).map_err(field_err(field(&format!("weightDevice[{i}]"))))?;
        }
    }
    for ((name, list), key) in throttles(b)
        .into_iter()
        .zip(["rbps", "wbps", "riops", "wiops"])
    {
        for t in list {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            let value = format!("{}:{} {key}={rate}", t.major(), t.minor());
            write(dir, "io.max", value).map_err(field_err(field(name)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_weight_conversion() {
        assert_eq!(weight_to_io(10), 1);
        assert_eq!(weight_to_io(500), 4950);
        assert_eq!(weight_to_io(1000), 10_000);
    }

    #[test]
    fn validation() {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(5));
        assert!(validate(&b)
            .unwrap_err()
            .to_string()
            .contains("blockIO.weight"));
        b.set_weight(Some(0));
        assert!(validate(&b).is_ok());
        let t = oci_spec::runtime::LinuxThrottleDeviceBuilder::default()
            .major(-1)
            .minor(0)
            .rate(1u64)
            .build()
            .unwrap();
        b.set_throttle_read_bps_device(Some(vec![t]));
        let e = validate(&b).unwrap_err().to_string();
        assert!(e.contains("throttleReadBpsDevice[0]"), "{e}");
    }
}
