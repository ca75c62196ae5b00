//! A test bundle: a directory with a copy of the test rootfs and a config.json built from
//! [`default_spec`](crate::spec::default_spec), which tests change before creating.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::payload::Report;
use crate::rootfs::{self, PAYLOAD};
use crate::spec::default_spec;

pub struct Bundle {
    /// The container id this bundle is created under.
    pub id: String,
    /// Names the container's cgroup and tags its processes: the id, or (for tests of invalid
    /// ids) a safe unique name.
    pub tag: String,
    /// The bundle directory: `config.json`, `rootfs/`, `log.json`, `init.pid`, and the
    /// container's stdout/stderr (`ctr.out`, `ctr.err`).
    pub dir: PathBuf,
    /// config.json, written by [`Bundle::write_config`] (the env's create/run do it).
    pub spec: Value,
}

impl Bundle {
    /// Makes `dir` with a fresh rootfs; the spec is the default one for `tag`.
    pub fn new(id: &str, tag: &str, dir: PathBuf) -> Bundle {
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        rootfs::populate(&dir.join("rootfs"));
        Bundle {
            id: id.to_string(),
            tag: tag.to_string(),
            spec: default_spec(tag),
            dir,
        }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn write_config(&self) {
        let text = serde_json::to_string_pretty(&self.spec).expect("spec serialises");
        fs::write(self.config_path(), text).expect("write config.json");
    }

    /// Runs the payload with `args` (`["sleep", "100"]`); no args: the report.
    pub fn payload(&mut self, args: &[&str]) -> &mut Self {
        let mut argv = vec![PAYLOAD];
        argv.extend_from_slice(args);
        self.args(&argv)
    }

    /// Sets `process.args`.
    pub fn args(&mut self, argv: &[&str]) -> &mut Self {
        self.spec["process"]["args"] = json!(argv);
        self
    }

    /// Runs `script` with the rootfs's busybox sh.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["/bin/sh", "-c", script])
    }

    pub fn process(&mut self) -> &mut Value {
        &mut self.spec["process"]
    }

    pub fn linux(&mut self) -> &mut Value {
        &mut self.spec["linux"]
    }

    /// Adds `KEY=VALUE` to `process.env`.
    pub fn env(&mut self, kv: &str) -> &mut Self {
        self.spec["process"]["env"]
            .as_array_mut()
            .expect("process.env is a list")
            .push(json!(kv));
        self
    }

    pub fn add_mount(&mut self, mount: Value) -> &mut Self {
        self.spec["mounts"]
            .as_array_mut()
            .expect("mounts is a list")
            .push(mount);
        self
    }

    /// Creates the host directory `<bundle>/<name>` (writable by everyone) and bind-mounts it
    /// at `dest` with `options` besides `rbind`; returns the host path.
    pub fn share(&mut self, name: &str, dest: &str, options: &[&str]) -> PathBuf {
        let host = self.dir.join(name);
        fs::create_dir_all(&host).expect("mkdir shared dir");
        fs::set_permissions(&host, fs::Permissions::from_mode(0o777)).expect("chmod shared dir");
        let mut opts = vec!["rbind"];
        opts.extend_from_slice(options);
        self.add_mount(json!({
            "destination": dest, "type": "bind", "source": host, "options": opts,
        }));
        host
    }

    /// Shares `<bundle>/mark` at `/mark` and sets `PAYLOAD_MARK`, so that the payload leaves
    /// `started <pid>` in the returned host file as soon as it runs.
    pub fn mark(&mut self) -> PathBuf {
        let host = self.share("mark", "/mark", &["rw"]);
        self.env("PAYLOAD_MARK=/mark/started");
        host.join("started")
    }

    /// Removes the namespace of type `ty` from `linux.namespaces`.
    pub fn without_namespace(&mut self, ty: &str) -> &mut Self {
        self.spec["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces is a list")
            .retain(|n| n["type"] != ty);
        self
    }

    /// Adds (or replaces) the namespace of type `ty`, joined at `path` if given.
    pub fn namespace(&mut self, ty: &str, path: Option<&Path>) -> &mut Self {
        self.without_namespace(ty);
        let ns = match path {
            Some(p) => json!({"type": ty, "path": p}),
            None => json!({"type": ty}),
        };
        self.spec["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces is a list")
            .push(ns);
        self
    }

    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("init.pid")
    }

    /// The pid in the pid file.
    #[track_caller]
    pub fn pid(&self) -> i32 {
        let text = fs::read_to_string(self.pid_file())
            .unwrap_or_else(|e| panic!("read {}: {e}", self.pid_file().display()));
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("pid file holds {text:?}"))
    }

    /// Everything the container (and the create/run calls) wrote to stdout so far.
    pub fn stdout(&self) -> String {
        fs::read_to_string(self.dir.join("ctr.out")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("ctr.err")).unwrap_or_default()
    }

    /// The payload's report from the container's stdout.
    #[track_caller]
    pub fn report(&self) -> Report {
        Report::parse(&self.stdout())
    }
}
