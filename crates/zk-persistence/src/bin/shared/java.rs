//! What the Java tools' output depends on besides the data: the iteration order of
//! `java.util.HashMap`/`HashSet` (children of a node, the session table), `String.hashCode`,
//! `java.util.Date.toString()` and the en-US `DateFormat` of TxnLogToolkit, in UTC or a fixed
//! offset taken from `TZ`.

use std::cmp::Ordering;

/// A key as `java.util.HashMap` sees it: `hashCode()` and `compareTo()` (used in tree bins).
pub(crate) trait JavaKey {
    fn java_hash(&self) -> i32;
    fn java_cmp(&self, other: &Self) -> Ordering;
}

/// `String.hashCode()` over UTF-16 code units; `compareTo` compares code units too.
impl JavaKey for str {
    fn java_hash(&self) -> i32 {
        self.encode_utf16().fold(0i32, |h, unit| {
            h.wrapping_mul(31).wrapping_add(i32::from(unit))
        })
    }
    fn java_cmp(&self, other: &Self) -> Ordering {
        self.encode_utf16().cmp(other.encode_utf16())
    }
}

/// `Long.hashCode()` and `Long.compareTo()`.
impl JavaKey for i64 {
    fn java_hash(&self) -> i32 {
        (*self ^ ((*self as u64) >> 32) as i64) as i32
    }
    fn java_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

const TREEIFY_THRESHOLD: usize = 8;
const UNTREEIFY_THRESHOLD: usize = 6;
const MIN_TREEIFY_CAPACITY: usize = 64;
const NIL: usize = usize::MAX;

#[derive(Debug, Clone)]
struct Entry {
    /// The spread hash, `h ^ (h >>> 16)`.
    hash: i32,
    next: usize,
    /// Tree bin links (`HashMap.TreeNode`).
    prev: usize,
    parent: usize,
    left: usize,
    right: usize,
    red: bool,
    tree: bool,
}

/// The bucket structure of a `java.util.HashMap` into which keys are only ever inserted, kept
/// exactly as JDK 8-21 keep it (resizes, list bins, red-black tree bins with their `next` order),
/// so that [`order`](Self::order) is Java's iteration order. Keys live in the caller's slice;
/// entries are indices into it.
#[derive(Debug)]
pub(crate) struct JavaHashOrder<'a, K: JavaKey + ?Sized> {
    keys: Vec<&'a K>,
    entries: Vec<Entry>,
    table: Vec<usize>,
    threshold: usize,
}

impl<'a, K: JavaKey + ?Sized> JavaHashOrder<'a, K> {
    /// `new HashMap<>()` (initial capacity 16).
    pub(crate) fn new() -> Self {
        Self::with_capacity(16)
    }

    /// `new HashMap<>(capacity)` / `new HashSet<>(capacity)` with the default load factor.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        JavaHashOrder {
            keys: Vec::new(),
            entries: Vec::new(),
            table: Vec::new(),
            threshold: capacity.max(1).next_power_of_two(),
        }
    }

    /// `put`/`add`: false when the key was already there (its position does not change).
    pub(crate) fn insert(&mut self, key: &'a K) -> bool {
        let h = key.java_hash();
        let hash = h ^ ((h as u32) >> 16) as i32;
        if self.table.is_empty() {
            self.resize();
        }
        let n = self.table.len();
        let index = hash as u32 as usize & (n - 1);
        let head = self.table[index];
        if head == NIL {
            let e = self.new_entry(key, hash, NIL);
            self.table[index] = e;
        } else if self.entries[head].hash == hash && self.eq(head, key) {
            return false;
        } else if self.entries[head].tree {
            if !self.put_tree_val(head, hash, key) {
                return false;
            }
        } else {
            let mut p = head;
            let mut bin_count = 0;
            loop {
                let next = self.entries[p].next;
                if next == NIL {
                    let e = self.new_entry(key, hash, NIL);
                    self.entries[p].next = e;
                    if bin_count >= TREEIFY_THRESHOLD - 1 {
                        self.treeify_bin(hash);
                    }
                    break;
                }
                if self.entries[next].hash == hash && self.eq(next, key) {
                    return false;
                }
                p = next;
                bin_count += 1;
            }
        }
        if self.keys.len() > self.threshold {
            self.resize();
        }
        true
    }

    /// The keys in Java's iteration order.
    pub(crate) fn order(&self) -> Vec<&'a K> {
        let mut out = Vec::with_capacity(self.keys.len());
        for &head in &self.table {
            let mut e = head;
            while e != NIL {
                out.push(self.keys[e]);
                e = self.entries[e].next;
            }
        }
        out
    }

    fn eq(&self, e: usize, key: &K) -> bool {
        self.keys[e].java_cmp(key) == Ordering::Equal
    }

    fn new_entry(&mut self, key: &'a K, hash: i32, next: usize) -> usize {
        self.keys.push(key);
        self.entries.push(Entry {
            hash,
            next,
            prev: NIL,
            parent: NIL,
            left: NIL,
            right: NIL,
            red: false,
            tree: false,
        });
        self.entries.len() - 1
    }

    /// Java's `compare` of the tree bins: by hash, then by `compareTo` (distinct keys of these
    /// types never compare equal, so `tieBreakOrder` is never reached).
    fn dir(&self, h: i32, key: &K, p: usize) -> Ordering {
        let ph = self.entries[p].hash;
        match ph.cmp(&h) {
            Ordering::Greater => Ordering::Less,
            Ordering::Less => Ordering::Greater,
            Ordering::Equal => key.java_cmp(self.keys[p]),
        }
    }

    fn resize(&mut self) {
        let old_cap = self.table.len();
        let new_cap = if old_cap > 0 {
            old_cap << 1
        } else {
            self.threshold
        };
        self.threshold = new_cap / 4 * 3 + (new_cap % 4) * 3 / 4;
        let old = std::mem::replace(&mut self.table, vec![NIL; new_cap]);
        for (j, &e) in old.iter().enumerate() {
            if e == NIL {
                continue;
            }
            if self.entries[e].next == NIL {
                let i = self.entries[e].hash as u32 as usize & (new_cap - 1);
                self.table[i] = e;
            } else if self.entries[e].tree {
                self.split(e, j, old_cap);
            } else {
                let (lo, hi) = self.split_list(e, old_cap);
                if let Some((head, _, _)) = lo {
                    self.table[j] = head;
                }
                if let Some((head, _, _)) = hi {
                    self.table[j + old_cap] = head;
                }
            }
        }
    }

    /// Splits the list from `e` by the `bit` of the hash, keeping the order; returns (head, tail,
    /// count) of the low and high lists, with `next` and `prev` relinked.
    #[allow(clippy::type_complexity)]
    fn split_list(
        &mut self,
        mut e: usize,
        bit: usize,
    ) -> (Option<(usize, usize, usize)>, Option<(usize, usize, usize)>) {
        let mut lo: Option<(usize, usize, usize)> = None;
        let mut hi: Option<(usize, usize, usize)> = None;
        while e != NIL {
            let next = self.entries[e].next;
            self.entries[e].next = NIL;
            let side = if self.entries[e].hash as u32 as usize & bit == 0 {
                &mut lo
            } else {
                &mut hi
            };
            match side {
                None => {
                    self.entries[e].prev = NIL;
                    *side = Some((e, e, 1));
                }
                Some((_, tail, count)) => {
                    self.entries[e].prev = *tail;
                    self.entries[*tail].next = e;
                    *tail = e;
                    *count += 1;
                }
            }
            e = next;
        }
        (lo, hi)
    }

    /// `TreeNode.split`.
    fn split(&mut self, b: usize, index: usize, bit: usize) {
        let (lo, hi) = self.split_list(b, bit);
        if let Some((head, _, count)) = lo {
            if count <= UNTREEIFY_THRESHOLD {
                self.untreeify(head);
                self.table[index] = head;
            } else {
                self.table[index] = head;
                if hi.is_some() {
                    self.treeify(head);
                }
            }
        }
        if let Some((head, _, count)) = hi {
            if count <= UNTREEIFY_THRESHOLD {
                self.untreeify(head);
                self.table[index + bit] = head;
            } else {
                self.table[index + bit] = head;
                if lo.is_some() {
                    self.treeify(head);
                }
            }
        }
    }

    fn untreeify(&mut self, mut e: usize) {
        while e != NIL {
            let entry = &mut self.entries[e];
            entry.tree = false;
            entry.prev = NIL;
            entry.parent = NIL;
            entry.left = NIL;
            entry.right = NIL;
            e = entry.next;
        }
    }

    fn treeify_bin(&mut self, hash: i32) {
        let n = self.table.len();
        if n < MIN_TREEIFY_CAPACITY {
            self.resize();
            return;
        }
        let index = hash as u32 as usize & (n - 1);
        let head = self.table[index];
        // replacementTreeNode: the same list, now doubly linked.
        let mut prev = NIL;
        let mut e = head;
        while e != NIL {
            self.entries[e].tree = true;
            self.entries[e].prev = prev;
            prev = e;
            e = self.entries[e].next;
        }
        self.treeify(head);
    }

    /// `TreeNode.treeify` from the list starting at `head` (which is `tab[index]`).
    fn treeify(&mut self, head: usize) {
        let mut root = NIL;
        let mut x = head;
        while x != NIL {
            let next = self.entries[x].next;
            self.entries[x].left = NIL;
            self.entries[x].right = NIL;
            self.entries[x].tree = true;
            if root == NIL {
                self.entries[x].parent = NIL;
                self.entries[x].red = false;
                root = x;
            } else {
                let h = self.entries[x].hash;
                let key = self.keys[x];
                let mut p = root;
                loop {
                    let dir = self.dir(h, key, p);
                    let xp = p;
                    p = if dir != Ordering::Greater {
                        self.entries[p].left
                    } else {
                        self.entries[p].right
                    };
                    if p == NIL {
                        self.entries[x].parent = xp;
                        if dir != Ordering::Greater {
                            self.entries[xp].left = x;
                        } else {
                            self.entries[xp].right = x;
                        }
                        root = self.balance_insertion(root, x);
                        break;
                    }
                }
            }
            x = next;
        }
        self.move_root_to_front(root);
    }

    /// `TreeNode.putTreeVal`: false if the key is present.
    fn put_tree_val(&mut self, root: usize, h: i32, key: &'a K) -> bool {
        let mut p = root;
        loop {
            let dir = self.dir(h, key, p);
            if dir == Ordering::Equal {
                return false;
            }
            let xp = p;
            p = if dir == Ordering::Less {
                self.entries[p].left
            } else {
                self.entries[p].right
            };
            if p == NIL {
                let xpn = self.entries[xp].next;
                let x = self.new_entry(key, h, xpn);
                self.entries[x].tree = true;
                if dir == Ordering::Less {
                    self.entries[xp].left = x;
                } else {
                    self.entries[xp].right = x;
                }
                self.entries[xp].next = x;
                self.entries[x].parent = xp;
                self.entries[x].prev = xp;
                if xpn != NIL {
                    self.entries[xpn].prev = x;
                }
                let root = self.balance_insertion(root, x);
                self.move_root_to_front(root);
                return true;
            }
        }
    }

    fn move_root_to_front(&mut self, root: usize) {
        let n = self.table.len();
        let index = self.entries[root].hash as u32 as usize & (n - 1);
        let first = self.table[index];
        if root == first {
            return;
        }
        self.table[index] = root;
        let rp = self.entries[root].prev;
        let rn = self.entries[root].next;
        if rn != NIL {
            self.entries[rn].prev = rp;
        }
        if rp != NIL {
            self.entries[rp].next = rn;
        }
        if first != NIL {
            self.entries[first].prev = root;
        }
        self.entries[root].next = first;
        self.entries[root].prev = NIL;
    }

    fn balance_insertion(&mut self, mut root: usize, mut x: usize) -> usize {
        self.entries[x].red = true;
        loop {
            let mut xp = self.entries[x].parent;
            if xp == NIL {
                self.entries[x].red = false;
                return x;
            }
            let mut xpp = self.entries[xp].parent;
            if !self.entries[xp].red || xpp == NIL {
                return root;
            }
            let xppl = self.entries[xpp].left;
            if xp == xppl {
                let xppr = self.entries[xpp].right;
                if xppr != NIL && self.entries[xppr].red {
                    self.entries[xppr].red = false;
                    self.entries[xp].red = false;
                    self.entries[xpp].red = true;
                    x = xpp;
                } else {
                    if x == self.entries[xp].right {
                        x = xp;
                        root = self.rotate_left(root, x);
                        xp = self.entries[x].parent;
                        xpp = if xp == NIL {
                            NIL
                        } else {
                            self.entries[xp].parent
                        };
                    }
                    if xp != NIL {
                        self.entries[xp].red = false;
                        if xpp != NIL {
                            self.entries[xpp].red = true;
                            root = self.rotate_right(root, xpp);
                        }
                    }
                }
            } else if xppl != NIL && self.entries[xppl].red {
                self.entries[xppl].red = false;
                self.entries[xp].red = false;
                self.entries[xpp].red = true;
                x = xpp;
            } else {
                if x == self.entries[xp].left {
                    x = xp;
                    root = self.rotate_right(root, x);
                    xp = self.entries[x].parent;
                    xpp = if xp == NIL {
                        NIL
                    } else {
                        self.entries[xp].parent
                    };
                }
                if xp != NIL {
                    self.entries[xp].red = false;
                    if xpp != NIL {
                        self.entries[xpp].red = true;
                        root = self.rotate_left(root, xpp);
                    }
                }
            }
        }
    }

    fn rotate_left(&mut self, mut root: usize, p: usize) -> usize {
        if p == NIL {
            return root;
        }
        let r = self.entries[p].right;
        if r == NIL {
            return root;
        }
        let rl = self.entries[r].left;
        self.entries[p].right = rl;
        if rl != NIL {
            self.entries[rl].parent = p;
        }
        let pp = self.entries[p].parent;
        self.entries[r].parent = pp;
        if pp == NIL {
            root = r;
            self.entries[r].red = false;
        } else if self.entries[pp].left == p {
            self.entries[pp].left = r;
        } else {
            self.entries[pp].right = r;
        }
        self.entries[r].left = p;
        self.entries[p].parent = r;
        root
    }

    fn rotate_right(&mut self, mut root: usize, p: usize) -> usize {
        if p == NIL {
            return root;
        }
        let l = self.entries[p].left;
        if l == NIL {
            return root;
        }
        let lr = self.entries[l].right;
        self.entries[p].left = lr;
        if lr != NIL {
            self.entries[lr].parent = p;
        }
        let pp = self.entries[p].parent;
        self.entries[l].parent = pp;
        if pp == NIL {
            root = l;
            self.entries[l].red = false;
        } else if self.entries[pp].right == p {
            self.entries[pp].right = l;
        } else {
            self.entries[pp].left = l;
        }
        self.entries[l].right = p;
        self.entries[p].parent = l;
        root
    }
}

/// The time zone dates are printed in: a name and a fixed offset from UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Zone {
    pub(crate) name: String,
    pub(crate) offset_secs: i64,
}

impl Zone {
    pub(crate) fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            offset_secs: 0,
        }
    }

    /// The zone of `TZ`: `UTC`/`GMT` (also `Etc/UTC`, `UTC0`, `:UTC`) or a POSIX fixed offset such
    /// as `EST5` or `XYZ-05:30`. Anything else (a zone with daylight saving rules, no `TZ`) prints
    /// as UTC.
    pub(crate) fn from_env() -> Zone {
        Zone::from_tz(std::env::var("TZ").ok().as_deref())
    }

    pub(crate) fn from_tz(tz: Option<&str>) -> Zone {
        let Some(tz) = tz else {
            return Zone::utc();
        };
        let tz = tz.trim_start_matches(':');
        let tz = tz.strip_prefix("Etc/").unwrap_or(tz);
        let name_len = tz
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tz.len());
        let (name, rest) = tz.split_at(name_len);
        if name.len() < 3 {
            return Zone::utc();
        }
        if rest.is_empty() || rest == "0" {
            return match name {
                "GMT" => Zone {
                    name: "GMT".into(),
                    offset_secs: 0,
                },
                _ => Zone::utc(),
            };
        }
        // POSIX: `EST5` is five hours behind UTC.
        let (sign, digits) = match rest.as_bytes()[0] {
            b'-' => (1, &rest[1..]),
            b'+' => (-1, &rest[1..]),
            _ => (-1, rest),
        };
        let mut parts = digits.splitn(3, ':');
        let Some(h) = parts.next().and_then(|p| p.parse::<i64>().ok()) else {
            return Zone::utc();
        };
        let m: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Zone {
            name: name.to_owned(),
            offset_secs: sign * (h * 3600 + m * 60),
        }
    }
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

struct Civil {
    year: i64,
    month: i64,
    day: i64,
    weekday: usize,
    secs_of_day: i64,
}

fn civil(millis: i64, zone: &Zone) -> Civil {
    let secs = millis.div_euclid(1000) + zone.offset_secs;
    let days = secs.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        weekday: days.rem_euclid(7) as usize,
        secs_of_day: secs.rem_euclid(86_400),
    }
}

/// `new Date(millis).toString()`: `EEE MMM dd HH:mm:ss zzz yyyy`.
pub(crate) fn date_to_string(millis: i64, zone: &Zone) -> String {
    let c = civil(millis, zone);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {} {}",
        DAYS[c.weekday],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.secs_of_day / 3600,
        c.secs_of_day % 3600 / 60,
        c.secs_of_day % 60,
        zone.name,
        c.year
    )
}

/// `DateFormat.getDateTimeInstance(SHORT, LONG)` of the en-US locale (JDK 9-19 CLDR data):
/// `M/d/yy, h:mm:ss a z`.
pub(crate) fn short_long_date(millis: i64, zone: &Zone) -> String {
    let c = civil(millis, zone);
    let hour = c.secs_of_day / 3600;
    let h12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    format!(
        "{}/{}/{:02}, {}:{:02}:{:02} {} {}",
        c.month,
        c.day,
        c.year.rem_euclid(100),
        h12,
        c.secs_of_day % 3600 / 60,
        c.secs_of_day % 60,
        if hour < 12 { "AM" } else { "PM" },
        zone.name
    )
}

/// `new String(bytes, UTF_8)`: malformed sequences become U+FFFD, as Java's decoder does.
pub(crate) fn utf8_lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(keys: &[String], capacity: usize) -> Vec<&str> {
        let mut set = JavaHashOrder::with_capacity(capacity);
        for k in keys {
            set.insert(k.as_str());
        }
        set.order()
    }

    #[test]
    fn string_hashes_are_javas() {
        assert_eq!("".java_hash(), 0);
        assert_eq!("a".java_hash(), 97);
        assert_eq!("hello".java_hash(), 99_162_322);
        assert_eq!("Aa".java_hash(), "BB".java_hash());
        // A character outside the BMP is two UTF-16 units.
        assert_eq!("\u{1F600}".java_hash(), 0xd83d * 31 + 0xde00);
        assert_eq!(0x1_0000_0001i64.java_hash(), 0);
        assert_eq!((-1i64).java_hash(), 0);
        assert_eq!(5i64.java_hash(), 5);
    }

    #[test]
    fn small_sets_iterate_by_bucket_then_insertion() {
        // Buckets of an 8-slot table: "a" 97 & 7 = 1, "b" 2, "i" 105 & 7 = 1.
        let keys: Vec<String> = ["i", "b", "a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(order(&keys, 8), ["i", "a", "b"]);
    }

    #[test]
    fn duplicates_keep_their_first_place() {
        let keys: Vec<String> = ["x", "y", "x"].iter().map(|s| s.to_string()).collect();
        let mut set = JavaHashOrder::with_capacity(8);
        let inserted: Vec<bool> = keys.iter().map(|k| set.insert(k.as_str())).collect();
        assert_eq!(inserted, [true, true, false]);
        assert_eq!(set.order(), ["x", "y"]);
    }

    /// Strings built from "Aa" and "BB" all share one hash: the bin grows into a red-black tree.
    #[test]
    fn colliding_keys_survive_treeification_and_resizes() {
        let mut keys = Vec::new();
        for i in 0..64u32 {
            let s: String = (0..6)
                .map(|b| if i >> b & 1 == 0 { "Aa" } else { "BB" })
                .collect();
            keys.push(s);
        }
        for i in 0..200 {
            keys.push(format!("n{i}"));
        }
        let ordered = order(&keys, 8);
        assert_eq!(ordered.len(), keys.len());
        let mut sorted: Vec<&str> = ordered.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), keys.len());
    }

    #[test]
    fn dates_print_as_java() {
        let utc = Zone::utc();
        assert_eq!(date_to_string(0, &utc), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            date_to_string(1_795_739_622_000, &utc),
            "Fri Nov 27 00:33:42 UTC 2026"
        );
        assert_eq!(
            short_long_date(1_795_739_622_000, &utc),
            "11/27/26, 12:33:42 AM UTC"
        );
        assert_eq!(
            short_long_date(1_795_700_882_000, &utc),
            "11/26/26, 1:48:02 PM UTC"
        );
        let est = Zone::from_tz(Some("EST5"));
        assert_eq!(date_to_string(0, &est), "Wed Dec 31 19:00:00 EST 1969");
        assert_eq!(Zone::from_tz(Some("Etc/UTC")), Zone::utc());
    }
}
