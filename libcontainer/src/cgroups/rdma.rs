//! `linux.resources.rdma`: `rdma.max` lines (`mlx4_0 hca_handle=2 hca_object=2000`), the same
//! on v1 and v2. A limit left out keeps its current value.
use std::collections::HashMap;

use oci_spec::runtime::LinuxRdma;

use super::files::write;
use super::{field_err, Dir};
use crate::{Error, Result};

/// The `rdma.max` line for one device.
pub(super) fn line(device: &str, r: &LinuxRdma) -> Option<String> {
    let mut line = device.to_string();
    if let Some(h) = r.hca_handles() {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = r.hca_objects() {
        line.push_str(&format!(" hca_object={o}"));
    }
    (line.len() > device.len()).then_some(line)
}

/// Host-independent checks.
pub(super) fn validate(limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    for device in limits.keys() {
        if device.is_empty() || device.contains(char::is_whitespace) {
            return Err(Error::invalid(
                format!("linux.resources.rdma[{device:?}]"),
                "not a device name",
            ));
        }
    }
    Ok(())
}

pub(super) fn set(dir: Dir, limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    for (device, r) in limits {
        if let Some(l) = line(device, r) {
            write(dir.path(), "rdma.max", l)
                .map_err(field_err(format!("linux.resources.rdma[{device:?}]")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let b = oci_spec::runtime::LinuxRdmaBuilder::default;
        assert_eq!(line("mlx4_0", &LinuxRdma::default()), None);
        let r = b().hca_handles(2u32).build().unwrap();
        assert_eq!(line("mlx4_0", &r).unwrap(), "mlx4_0 hca_handle=2");
        let r = b().hca_handles(2u32).hca_objects(2000u32).build().unwrap();
        assert_eq!(
            line("mlx4_0", &r).unwrap(),
            "mlx4_0 hca_handle=2 hca_object=2000"
        );
    }
}
