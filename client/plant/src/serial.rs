//! Randomised, never-repeating serial numbers (SGTIN serials for the
//! simulator) and SSCC serial references.
//!
//! # Why two serials can never be equal
//! A serial is `namespace ‖ digits`, where `digits` is the zero-padded
//! image of a counter value under a keyed permutation of `[0, 10^width)`.
//!
//! 1. *Within one namespace*: the counter only moves forward (it is
//!    persisted in blocks, see [`CounterStore`], so a restart resumes past
//!    every value ever handed out), and a permutation maps distinct counters
//!    to distinct outputs. Distinct counters, distinct serials.
//! 2. *Across namespaces* (other lines, other sites): namespaces are
//!    assigned centrally per site and line and are pairwise different. Two
//!    serials with equal `width` but different namespaces differ either in
//!    length (namespaces of different length) or in their leading
//!    characters. Allocators of one site reject two lines with the same
//!    namespace at configuration time.
//!
//! No global set of issued serials is needed; the argument depends only on
//! the bijection and the monotonic counter, which the tests check
//! exhaustively on small domains.
//!
//! # Why the serials are hard to guess
//! The permutation is a keyed Feistel network ([`FeistelPermutation`],
//! eight rounds, SHA-256 round function over a secret key) with cycle
//! walking, so consecutive counters give unrelated outputs. A namespace may
//! issue at most `10^width / 10_000` serials ([`GUESS_ODDS_DENOMINATOR`]):
//! someone who guesses a syntactically valid serial of a GTIN hits an issued
//! one with probability below 1 in 10,000, as EU FMD (Delegated Regulation
//! 2016/161, Art. 4) requires.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::SerialError;

/// Guessing odds bound (EU FMD: below 1 in 10,000): a namespace issues at
/// most `10^width / GUESS_ODDS_DENOMINATOR` serials.
pub const GUESS_ODDS_DENOMINATOR: u64 = 10_000;

/// Feistel rounds. Eight balanced rounds is the usual choice for
/// format-preserving encryption on small domains (FF1 uses ten).
const FEISTEL_ROUNDS: u8 = 8;

/// Counter values reserved per write of the counter file: a restart skips
/// at most this many numbers, and an allocation rarely waits for an fsync.
pub const COUNTER_RESERVATION_BLOCK: u64 = 1_000;

/// Largest supported width in decimal digits (10^18 fits in a `u64`).
const WIDTH_DIGITS_MAX: u32 = 18;

/// A keyed permutation of `[0, 10^width)`: a balanced Feistel network on
/// `10^(2·half)` (with `half = ⌈width/2⌉`) restricted to the smaller domain
/// by cycle walking.
#[derive(Clone)]
pub struct FeistelPermutation {
    key: [u8; 32],
    tweak: Vec<u8>,
    width_digits: u32,
    half_modulus: u64,
    domain: u64,
}

impl std::fmt::Debug for FeistelPermutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never print it.
        f.debug_struct("FeistelPermutation")
            .field("width_digits", &self.width_digits)
            .finish_non_exhaustive()
    }
}

impl FeistelPermutation {
    /// A permutation of `[0, 10^width_digits)` under `key`, domain-separated
    /// by `tweak` (the namespace) so namespaces sharing a key still get
    /// unrelated sequences.
    pub fn new(key: [u8; 32], tweak: &[u8], width_digits: u32) -> Result<Self, SerialError> {
        if !(2..=WIDTH_DIGITS_MAX).contains(&width_digits) {
            return Err(SerialError::Config(format!(
                "width {width_digits} must be 2..={WIDTH_DIGITS_MAX} digits"
            )));
        }
        let half_digits = width_digits.div_ceil(2);
        Ok(Self {
            key,
            tweak: tweak.to_vec(),
            width_digits,
            half_modulus: 10u64.pow(half_digits),
            domain: 10u64.pow(width_digits),
        })
    }

    /// The domain size `10^width`.
    pub fn domain(&self) -> u64 {
        self.domain
    }

    /// The width in digits.
    pub fn width_digits(&self) -> u32 {
        self.width_digits
    }

    fn round_function(&self, round: u8, value: u64) -> u64 {
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update((self.tweak.len() as u64).to_be_bytes());
        hasher.update(&self.tweak);
        hasher.update([round]);
        hasher.update(value.to_be_bytes());
        let digest = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % self.half_modulus
    }

    fn feistel_forward(&self, x: u64) -> u64 {
        let m = self.half_modulus;
        let (mut left, mut right) = (x / m, x % m);
        for round in 0..FEISTEL_ROUNDS {
            // (L, R) -> (R, L + F(R) mod m): invertible for any F.
            let next_right = (left + self.round_function(round, right)) % m;
            left = right;
            right = next_right;
        }
        left * m + right
    }

    fn feistel_backward(&self, y: u64) -> u64 {
        let m = self.half_modulus;
        let (mut left, mut right) = (y / m, y % m);
        for round in (0..FEISTEL_ROUNDS).rev() {
            let previous_left = (right + m - self.round_function(round, left)) % m;
            right = left;
            left = previous_left;
        }
        left * m + right
    }

    /// Maps `x < 10^width` to its image, also `< 10^width`.
    ///
    /// Cycle walking: apply the Feistel permutation of the larger square
    /// domain until the value falls back into `[0, 10^width)`. This always
    /// terminates (the cycle through `x` returns to `x`, which is in the
    /// domain) and is a bijection on the smaller domain.
    pub fn permute(&self, x: u64) -> u64 {
        assert!(x < self.domain, "permute: {x} outside [0, {})", self.domain);
        let mut y = self.feistel_forward(x);
        while y >= self.domain {
            y = self.feistel_forward(y);
        }
        y
    }

    /// The inverse of [`FeistelPermutation::permute`].
    pub fn invert(&self, y: u64) -> u64 {
        assert!(y < self.domain, "invert: {y} outside [0, {})", self.domain);
        let mut x = self.feistel_backward(y);
        while x >= self.domain {
            x = self.feistel_backward(x);
        }
        x
    }
}

/// A forward-only counter persisted in reserved blocks.
///
/// The file holds the *reservation limit*: every value handed out is below
/// it. [`CounterStore::take_next`] writes a new limit (temporary file, fsync,
/// rename, directory fsync) before handing out the first value of a block,
/// and [`CounterStore::open`] resumes at the stored limit, so no value is
/// ever handed out twice, even across crashes. At most one block is skipped
/// per restart.
#[derive(Debug)]
pub struct CounterStore {
    path: PathBuf,
    next_value: u64,
    reserved_limit: u64,
}

impl CounterStore {
    /// Opens (or creates at zero) the counter in `path`.
    pub fn open(path: &Path) -> Result<Self, SerialError> {
        let io = |source| SerialError::Io {
            path: path.to_path_buf(),
            source,
        };
        let reserved_limit = match fs::read_to_string(path) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|e| SerialError::BadState {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(e)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            next_value: reserved_limit,
            reserved_limit,
        })
    }

    /// Hands out the next value (reserving and persisting a new block when
    /// the current one is used up).
    pub fn take_next(&mut self) -> Result<u64, SerialError> {
        if self.next_value >= self.reserved_limit {
            let limit = self.next_value + COUNTER_RESERVATION_BLOCK;
            write_durably(&self.path, format!("{limit}\n").as_bytes()).map_err(|source| {
                SerialError::Io {
                    path: self.path.clone(),
                    source,
                }
            })?;
            self.reserved_limit = limit;
        }
        let value = self.next_value;
        self.next_value += 1;
        assert!(self.next_value <= self.reserved_limit);
        Ok(value)
    }

    /// The next value that would be handed out.
    pub fn peek(&self) -> u64 {
        self.next_value
    }
}

/// Writes `bytes` to `path` atomically and durably: temporary file, fsync,
/// rename, fsync of the directory.
pub(crate) fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(directory)?;
    let mut temporary_name = path.as_os_str().to_owned();
    temporary_name.push(".tmp");
    let temporary = PathBuf::from(temporary_name);
    {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    fs::File::open(directory)?.sync_all()
}

/// Allocates SGTIN serials `namespace ‖ permuted counter` (see the module
/// documentation for the uniqueness and guessing-odds argument).
#[derive(Debug)]
pub struct SerialAllocator {
    namespace: String,
    permutation: FeistelPermutation,
    counter: CounterStore,
    issued_max: u64,
}

impl SerialAllocator {
    /// An allocator for `namespace` (1–8 characters `A-Z a-z 0-9`), issuing
    /// `width_digits` permuted digits after it, keyed by `key`, with its
    /// counter in `state_dir/serial-{namespace}.counter`.
    pub fn open(
        namespace: &str,
        width_digits: u32,
        key: [u8; 32],
        state_dir: &Path,
    ) -> Result<Self, SerialError> {
        if namespace.is_empty()
            || namespace.len() > 8
            || !namespace.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(SerialError::Config(format!(
                "serial namespace {namespace:?} must be 1-8 characters A-Z a-z 0-9"
            )));
        }
        if namespace.len() + width_digits as usize > 20 {
            return Err(SerialError::Config(format!(
                "namespace {namespace:?} plus {width_digits} digits exceeds the 20 characters of AI (21)"
            )));
        }
        let permutation = FeistelPermutation::new(key, namespace.as_bytes(), width_digits)?;
        let issued_max = permutation.domain() / GUESS_ODDS_DENOMINATOR;
        if issued_max == 0 {
            return Err(SerialError::Config(format!(
                "{width_digits} digits leave no room for guessing odds below 1 in {GUESS_ODDS_DENOMINATOR}"
            )));
        }
        let counter = CounterStore::open(&state_dir.join(format!("serial-{namespace}.counter")))?;
        Ok(Self {
            namespace: namespace.to_string(),
            permutation,
            counter,
            issued_max,
        })
    }

    /// The next serial. Fails once the namespace has issued
    /// `10^width / 10_000` serials.
    pub fn next_serial(&mut self) -> Result<String, SerialError> {
        if self.counter.peek() >= self.issued_max {
            return Err(SerialError::Exhausted {
                namespace: self.namespace.clone(),
                issued_max: self.issued_max,
            });
        }
        let value = self.counter.take_next()?;
        let digits = self.permutation.permute(value);
        let width = self.permutation.width_digits() as usize;
        Ok(format!("{}{digits:0width$}", self.namespace))
    }

    /// How many serials this namespace may issue in total.
    pub fn issued_max(&self) -> u64 {
        self.issued_max
    }
}

/// Allocates SSCCs: extension digit ‖ company prefix ‖ namespace digits ‖
/// permuted counter ‖ check digit. The namespace digits (per site and line)
/// play the role of the serial namespace above; the serial reference is
/// `16 − len(company prefix)` digits long.
#[derive(Debug)]
pub struct SsccAllocator {
    extension_digit: u8,
    company_prefix: String,
    namespace: String,
    permutation: FeistelPermutation,
    counter: CounterStore,
}

impl SsccAllocator {
    /// An allocator for `company_prefix` (6–12 digits) and `namespace`
    /// (1–4 digits, unique per site and line), with the counter in
    /// `state_dir/sscc-{extension}{prefix}{namespace}.counter`.
    pub fn open(
        extension_digit: u8,
        company_prefix: &str,
        namespace: &str,
        key: [u8; 32],
        state_dir: &Path,
    ) -> Result<Self, SerialError> {
        if extension_digit > 9 {
            return Err(SerialError::Config(
                "SSCC extension digit must be 0-9".into(),
            ));
        }
        if !(6..=12).contains(&company_prefix.len())
            || !company_prefix.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SerialError::Config(format!(
                "company prefix {company_prefix:?} must be 6-12 digits"
            )));
        }
        if namespace.is_empty()
            || namespace.len() > 4
            || !namespace.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SerialError::Config(format!(
                "SSCC namespace {namespace:?} must be 1-4 digits"
            )));
        }
        let serial_reference_digits = 16 - company_prefix.len();
        let width = serial_reference_digits.saturating_sub(namespace.len());
        if width < 2 {
            return Err(SerialError::Config(format!(
                "company prefix {company_prefix} and namespace {namespace} leave fewer than 2 digits for the serial reference"
            )));
        }
        let tweak = format!("sscc:{extension_digit}:{company_prefix}:{namespace}");
        let permutation = FeistelPermutation::new(key, tweak.as_bytes(), width as u32)?;
        let counter = CounterStore::open(&state_dir.join(format!(
            "sscc-{extension_digit}{company_prefix}{namespace}.counter"
        )))?;
        Ok(Self {
            extension_digit,
            company_prefix: company_prefix.to_string(),
            namespace: namespace.to_string(),
            permutation,
            counter,
        })
    }

    /// The next SSCC (18 digits with its check digit).
    pub fn next_sscc(&mut self) -> Result<pedigree_gs1::Sscc, SerialError> {
        if self.counter.peek() >= self.permutation.domain() {
            return Err(SerialError::Exhausted {
                namespace: self.namespace.clone(),
                issued_max: self.permutation.domain(),
            });
        }
        let value = self.counter.take_next()?;
        let digits = self.permutation.permute(value);
        let width = self.permutation.width_digits() as usize;
        let body = format!(
            "{}{}{}{digits:0width$}",
            self.extension_digit, self.company_prefix, self.namespace
        );
        assert_eq!(body.len(), 17);
        let full = pedigree_gs1::check_digit::with_check_digit(&body)
            .ok_or_else(|| SerialError::Config(format!("SSCC body {body} is not numeric")))?;
        pedigree_gs1::Sscc::parse(&full).map_err(|e| SerialError::Config(e.to_string()))
    }
}

/// Derives a 32-byte key from a label and a seed (simulator and tests; a
/// production site configures a random secret key instead).
pub fn key_from_seed(label: &str, seed: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"pedigree-plant key v1\0");
    hasher.update(label.as_bytes());
    hasher.update([0]);
    hasher.update(seed.to_be_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn permutation_is_a_bijection_on_small_domains() {
        // Exhaustive on every shape: even widths (no cycle walking) and odd
        // ones (cycle walking from the square domain).
        for width in 2..=4 {
            let p = FeistelPermutation::new(key_from_seed("t", u64::from(width)), b"ns", width)
                .unwrap();
            let mut seen = vec![false; p.domain() as usize];
            for x in 0..p.domain() {
                let y = p.permute(x);
                assert!(y < p.domain());
                assert!(!seen[y as usize], "width {width}: {y} hit twice");
                seen[y as usize] = true;
                assert_eq!(p.invert(y), x);
            }
        }
    }

    proptest::proptest! {
        /// For any key, namespace and width up to 18 digits, `invert` undoes
        /// `permute` and the image stays in the domain.
        #[test]
        fn permutation_round_trips(key in proptest::array::uniform32(0u8..), tweak in "[A-Z0-9]{1,8}", width in 2u32..=18, x in 0u64..u64::MAX) {
            let p = FeistelPermutation::new(key, tweak.as_bytes(), width).unwrap();
            let x = x % p.domain();
            let y = p.permute(x);
            proptest::prop_assert!(y < p.domain());
            proptest::prop_assert_eq!(p.invert(y), x);
        }
    }

    #[test]
    fn permutation_is_not_sequential() {
        let p = FeistelPermutation::new(key_from_seed("t", 1), b"A1", 12).unwrap();
        let outputs: Vec<u64> = (0..1000).map(|x| p.permute(x)).collect();
        let ascending_steps = outputs.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert_eq!(
            ascending_steps, 0,
            "consecutive counters gave consecutive serials"
        );
        // Different tweaks (namespaces) under one key give different sequences.
        let q = FeistelPermutation::new(key_from_seed("t", 1), b"A2", 12).unwrap();
        let same = (0..1000).filter(|&x| p.permute(x) == q.permute(x)).count();
        assert!(same < 5);
    }

    #[test]
    fn allocator_never_repeats_across_restarts_and_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_from_seed("site", 7);
        let mut all = BTreeSet::new();
        for round in 0..3 {
            for namespace in ["A1", "A2", "B1"] {
                let mut allocator = SerialAllocator::open(namespace, 10, key, dir.path()).unwrap();
                for _ in 0..700 + round * 100 {
                    let serial = allocator.next_serial().unwrap();
                    assert_eq!(serial.len(), namespace.len() + 10);
                    assert!(all.insert(serial.clone()), "repeated {serial}");
                }
                // Dropped here: the restart skips the rest of the reserved block.
            }
        }
    }

    #[test]
    fn allocator_respects_guessing_odds() {
        let dir = tempfile::tempdir().unwrap();
        let mut allocator = SerialAllocator::open("Z", 6, [3; 32], dir.path()).unwrap();
        assert_eq!(allocator.issued_max(), 100);
        for _ in 0..100 {
            allocator.next_serial().unwrap();
        }
        assert!(matches!(
            allocator.next_serial(),
            Err(SerialError::Exhausted { .. })
        ));
        assert!(SerialAllocator::open("Z", 3, [3; 32], dir.path()).is_err());
        assert!(SerialAllocator::open("bad-ns", 8, [3; 32], dir.path()).is_err());
    }

    #[test]
    fn sscc_allocator_makes_valid_unique_ssccs() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = BTreeSet::new();
        for namespace in ["01", "02"] {
            let mut allocator =
                SsccAllocator::open(3, "0614141", namespace, [9; 32], dir.path()).unwrap();
            for _ in 0..1000 {
                let sscc = allocator.next_sscc().unwrap();
                let text = sscc.as_str();
                assert!(text.starts_with(&format!("30614141{namespace}")));
                assert!(pedigree_gs1::check_digit::is_valid_mod10(text));
                assert!(seen.insert(text.to_string()));
            }
        }
    }
}
