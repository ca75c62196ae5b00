//! Reading what the payload printed inside the container.
use serde_json::Value;

/// The last JSON line in `text` (the payload prints one line per answer).
#[track_caller]
pub fn last_json(text: &str) -> Value {
    text.lines()
        .rev()
        .map(str::trim)
        .filter(|l| l.starts_with('{') || l.starts_with('['))
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON line in the payload's output: {text:?}"))
}

/// The payload's report: one JSON object, see `integration/payload/src/report.rs`.
#[derive(Clone, Debug)]
pub struct Report(pub Value);

/// One mount as the container sees it.
#[derive(Clone, Debug)]
pub struct Mount {
    pub target: String,
    pub fstype: String,
    pub source: String,
    /// Per-mount options (`ro,nosuid,nodev`).
    pub options: Vec<String>,
    /// Superblock options (`size=65536k,mode=755`).
    pub super_options: Vec<String>,
}

impl Mount {
    /// Whether `opt` is among the per-mount or the superblock options.
    pub fn has(&self, opt: &str) -> bool {
        self.options
            .iter()
            .chain(&self.super_options)
            .any(|o| o == opt)
    }

    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }
}

impl Report {
    #[track_caller]
    pub fn parse(text: &str) -> Report {
        let v = last_json(text);
        assert!(v["pid"].is_i64(), "not a payload report: {v}");
        Report(v)
    }

    #[track_caller]
    pub fn num(&self, key: &str) -> i64 {
        self.0[key]
            .as_i64()
            .unwrap_or_else(|| panic!("report has no number {key:?}: {}", self.0))
    }

    #[track_caller]
    pub fn str(&self, key: &str) -> &str {
        self.0[key]
            .as_str()
            .unwrap_or_else(|| panic!("report has no string {key:?}: {}", self.0))
    }

    /// The namespace link (`net:[4026532...]`) of type `ns` as in /proc/self/ns.
    #[track_caller]
    pub fn ns(&self, ns: &str) -> &str {
        self.0["ns"][ns]
            .as_str()
            .unwrap_or_else(|| panic!("report has no namespace {ns:?}: {}", self.0["ns"]))
    }

    /// A capability set as a mask: `inh`, `prm`, `eff`, `bnd` or `amb`.
    #[track_caller]
    pub fn caps(&self, set: &str) -> u64 {
        let hex = self.0["caps"][set].as_str().unwrap_or_default();
        u64::from_str_radix(hex, 16)
            .unwrap_or_else(|_| panic!("bad capability set {set}: {:?}", self.0["caps"]))
    }

    pub fn env(&self) -> Vec<String> {
        strings(&self.0["env"])
    }

    /// The value of environment variable `key` in the container.
    pub fn env_var(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.env()
            .into_iter()
            .find_map(|kv| kv.strip_prefix(&prefix).map(str::to_string))
    }

    pub fn groups(&self) -> Vec<u64> {
        let mut g: Vec<u64> = self.0["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        g.sort();
        g
    }

    /// (soft, hard) of an rlimit by spec name (`RLIMIT_NOFILE`).
    #[track_caller]
    pub fn rlimit(&self, name: &str) -> (u64, u64) {
        let r = &self.0["rlimits"][name];
        match (r["soft"].as_u64(), r["hard"].as_u64()) {
            (Some(s), Some(h)) => (s, h),
            _ => panic!("report has no rlimit {name}: {}", self.0["rlimits"]),
        }
    }

    /// Open fds and their link targets.
    pub fn fds(&self) -> Vec<(i64, String)> {
        self.0["fds"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["fd"].as_i64().unwrap_or(-1),
                    f["target"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    pub fn fd_numbers(&self) -> Vec<i64> {
        self.fds().into_iter().map(|(fd, _)| fd).collect()
    }

    pub fn mounts(&self) -> Vec<Mount> {
        let split = |v: &Value| -> Vec<String> {
            v.as_str()
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        self.0["mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| Mount {
                target: m["target"].as_str().unwrap_or_default().to_string(),
                fstype: m["fstype"].as_str().unwrap_or_default().to_string(),
                source: m["source"].as_str().unwrap_or_default().to_string(),
                options: split(&m["options"]),
                super_options: split(&m["super"]),
            })
            .collect()
    }

    /// The topmost mount at `target` (the one that is visible).
    pub fn mount(&self, target: &str) -> Option<Mount> {
        self.mounts().into_iter().rev().find(|m| m.target == target)
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}
