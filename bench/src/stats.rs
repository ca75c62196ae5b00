//! Samples of one measurement and their summary (min, median, mean).

/// The samples of one workload for one runtime, or the first error that stopped it.
#[derive(Debug, Default, Clone)]
pub struct Series {
    pub samples: Vec<f64>,
    pub error: Option<String>,
}

impl Series {
    /// Records a sample, or the first error (later errors add nothing).
    pub fn push(&mut self, sample: Result<f64, String>) {
        match sample {
            Ok(v) => self.samples.push(v),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    pub fn stats(&self) -> Option<Stats> {
        Stats::of(&self.samples)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub mean: f64,
}

impl Stats {
    /// The summary of `samples`; `None` if there are none.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stats {
            n,
            min: sorted[0],
            median,
            mean: sorted.iter().sum::<f64>() / n as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_count() {
        let s = Stats::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!(
            s,
            Stats {
                n: 3,
                min: 1.0,
                median: 3.0,
                mean: 3.0
            }
        );
    }

    #[test]
    fn even_count_takes_middle_pair() {
        let s = Stats::of(&[4.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!(s.median, 3.0);
        assert_eq!(s.mean, 4.25);
        assert_eq!(s.min, 1.0);
    }

    #[test]
    fn single_and_empty() {
        assert_eq!(Stats::of(&[]), None);
        let s = Stats::of(&[7.5]).unwrap();
        assert_eq!((s.min, s.median, s.mean), (7.5, 7.5, 7.5));
    }

    #[test]
    fn series_keeps_first_error() {
        let mut s = Series::default();
        s.push(Ok(1.0));
        s.push(Err("first".into()));
        s.push(Err("second".into()));
        assert!(s.failed());
        assert_eq!(s.error.as_deref(), Some("first"));
        assert_eq!(s.samples, vec![1.0]);
    }
}
