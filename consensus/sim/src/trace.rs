//! The event trace: one line per event, hashed so that two runs can be compared cheaply.

/// A running hash of every event plus, optionally, the text lines.
#[derive(Debug)]
pub struct Trace {
    hash: u64,
    events: u64,
    lines: Option<Vec<String>>,
    echo: bool,
}

impl Trace {
    /// A trace that keeps lines when `keep_lines`, and prints them as they happen when `echo`.
    pub fn new(keep_lines: bool, echo: bool) -> Self {
        Self {
            hash: crate::state_machine::HASH_SEED,
            events: 0,
            lines: keep_lines.then(Vec::new),
            echo,
        }
    }

    /// Records one event: `fields` feed the hash, `describe` renders the line only when needed.
    pub fn event(&mut self, time_ms: u64, fields: &[u64], describe: impl FnOnce() -> String) {
        self.hash = crate::state_machine::mix(self.hash, time_ms);
        for field in fields {
            self.hash = crate::state_machine::mix(self.hash, *field);
        }
        self.events += 1;
        if self.lines.is_some() || self.echo {
            let line = format!("{time_ms:>7}ms {}", describe());
            if self.echo {
                println!("{line}");
            }
            if let Some(lines) = &mut self.lines {
                lines.push(line);
            }
        }
    }

    /// Hash over every event so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Number of events so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The kept lines, if any.
    pub fn lines(&self) -> Option<&[String]> {
        self.lines.as_deref()
    }
}

/// Hashes bytes into one trace field.
pub fn bytes_hash(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(crate::state_machine::HASH_SEED, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        })
}
