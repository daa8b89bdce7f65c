//! The Zenoh session settings of a bridge end.

use std::path::PathBuf;

use zenoh::Wait;

use crate::error::{zerr, BridgeError};

/// Where a bridge end connects and listens.
///
/// With explicit endpoints the topology is explicit: multicast scouting
/// and gossip are turned off (unless `scout` asks for scouting), and the
/// session listens only on the `listen` endpoints. With no endpoints at all,
/// Zenoh's defaults (or the configuration file's settings) apply: peer mode
/// with multicast scouting.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// Endpoints to connect to, e.g. `tcp/10.0.0.5:7447`.
    pub connect: Vec<String>,
    /// Endpoints to listen on, e.g. `tcp/0.0.0.0:7447`.
    pub listen: Vec<String>,
    /// Keep Zenoh's scouting on even with explicit endpoints.
    pub scout: bool,
    /// A Zenoh configuration file (JSON5) for everything else: mode, routers,
    /// TLS, access control, ... The endpoint settings above override its own.
    pub config_file: Option<PathBuf>,
}

impl Network {
    /// The Zenoh configuration these settings describe.
    pub fn zenoh_config(&self) -> Result<zenoh::Config, BridgeError> {
        let mut c = match &self.config_file {
            Some(p) => zenoh::Config::from_file(p)
                .map_err(|e| BridgeError::Config(format!("Zenoh configuration {}: {e}", p.display())))?,
            None => zenoh::Config::default(),
        };
        if !self.connect.is_empty() || !self.listen.is_empty() {
            let list = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
            set(&mut c, "connect/endpoints", &list(&self.connect))?;
            set(&mut c, "listen/endpoints", &list(&self.listen))?;
            if !self.scout {
                set(&mut c, "scouting/multicast/enabled", "false")?;
                set(&mut c, "scouting/gossip/enabled", "false")?;
            }
        }
        Ok(c)
    }

    /// Opens a Zenoh session with these settings.
    pub fn open(&self) -> Result<zenoh::Session, BridgeError> {
        zenoh::open(self.zenoh_config()?).wait().map_err(zerr)
    }
}

fn set(c: &mut zenoh::Config, key: &str, value: &str) -> Result<(), BridgeError> {
    c.insert_json5(key, value).map_err(|e| BridgeError::Config(format!("{key} = {value}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_endpoints_turn_scouting_off() {
        let n = Network { connect: vec!["tcp/127.0.0.1:1".into()], ..Network::default() };
        let c = n.zenoh_config().unwrap();
        assert_eq!(c.get_json("scouting/multicast/enabled").unwrap(), "false");
        assert_eq!(c.get_json("scouting/gossip/enabled").unwrap(), "false");
        assert!(c.get_json("connect/endpoints").unwrap().contains("tcp/127.0.0.1:1"));
        assert_eq!(c.get_json("listen/endpoints").unwrap().replace(' ', ""), "[]");
        let scouting = Network { scout: true, ..n }.zenoh_config().unwrap();
        assert_ne!(scouting.get_json("scouting/multicast/enabled").unwrap(), "false");
    }

    #[test]
    fn a_bad_endpoint_is_an_error() {
        let n = Network { listen: vec!["nonsense".into()], ..Network::default() };
        assert!(n.zenoh_config().is_err());
    }
}
