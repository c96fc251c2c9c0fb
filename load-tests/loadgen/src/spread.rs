//! A realistic spread of destinations: one authority per Land, chosen in proportion to its
//! population (so NRW, Bavaria and Baden-Württemberg get most traffic, Bremen the least), with
//! a random municipality key (AGS) inside the Land as `leser`.

use rand::Rng;

/// One Land: AGS prefix, destination id, population in thousands (Destatis, 2023).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Land {
    /// Two-digit AGS prefix.
    pub ags: &'static str,
    /// Destination id used in the router configuration and in the authority's inbox path.
    pub destination: &'static str,
    /// Weight (population in thousands).
    pub weight: u32,
}

/// The 16 Länder.
pub const LAENDER: [Land; 16] = [
    land("01", "sh", 2_953),
    land("02", "hh", 1_892),
    land("03", "ni", 8_140),
    land("04", "hb", 684),
    land("05", "nw", 18_139),
    land("06", "he", 6_391),
    land("07", "rp", 4_159),
    land("08", "bw", 11_280),
    land("09", "by", 13_369),
    land("10", "sl", 993),
    land("11", "be", 3_755),
    land("12", "bb", 2_573),
    land("13", "mv", 1_628),
    land("14", "sn", 4_086),
    land("15", "st", 2_187),
    land("16", "th", 2_127),
];

const fn land(ags: &'static str, destination: &'static str, weight: u32) -> Land {
    Land {
        ags,
        destination,
        weight,
    }
}

/// Index into [`LAENDER`], drawn in proportion to population.
pub fn pick(rng: &mut impl Rng) -> usize {
    let total: u32 = LAENDER.iter().map(|l| l.weight).sum();
    let mut x = rng.random_range(0..total);
    for (i, l) in LAENDER.iter().enumerate() {
        if x < l.weight {
            return i;
        }
        x -= l.weight;
    }
    LAENDER.len() - 1
}

/// A `leser` kennung in Land `i`: `ags:` + Land + district + municipality (8 digits).
pub fn leser(rng: &mut impl Rng, i: usize) -> String {
    let ags = LAENDER.get(i).map_or("08", |l| l.ags);
    let district = rng.random_range(1..=80u32);
    let municipality = rng.random_range(0..=120u32);
    format!("ags:{ags}{district:03}{municipality:03}")
}

/// An `autor` kennung: one of a handful of portals.
pub fn autor(rng: &mut impl Rng) -> String {
    format!("psw:0100311{}", rng.random_range(0..8u32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn picks_follow_population_and_reach_every_land() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut counts = [0u32; 16];
        for _ in 0..200_000 {
            counts[pick(&mut rng)] += 1;
        }
        assert!(
            counts.iter().all(|&c| c > 0),
            "every Land gets traffic: {counts:?}"
        );
        let total: u32 = LAENDER.iter().map(|l| l.weight).sum();
        assert_eq!(total, 84_356);
        let nw = counts[4] as f64 / 200_000.0;
        let hb = counts[3] as f64 / 200_000.0;
        assert!((nw - 18_139.0 / 84_356.0).abs() < 0.01, "NRW share {nw}");
        assert!((hb - 684.0 / 84_356.0).abs() < 0.002, "Bremen share {hb}");
    }

    #[test]
    fn leser_is_an_eight_digit_ags_of_its_land() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        for (i, land) in LAENDER.iter().enumerate() {
            let k = leser(&mut rng, i);
            let digits = k.strip_prefix("ags:").expect("ags prefix");
            assert_eq!(digits.len(), 8, "{k}");
            assert!(digits.starts_with(land.ags), "{k}");
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{k}");
        }
    }

    #[test]
    fn destination_ids_are_unique() {
        let mut ids: Vec<_> = LAENDER.iter().map(|l| l.destination).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 16);
    }
}
