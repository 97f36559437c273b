//! What an AWS deploy, rollback or resume may go past when an operator says so: a lock held by
//! a dashctl that is gone, and listener weights dashctl did not set. A clap group, so the
//! flags reach the library as the one value the command line parsed.

#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Overrides {
    /// AWS: end the lease of the dashctl holding the rollout lock (only when it is known to be
    /// gone: it died, its CI runner was lost), then go on. An unfinished rollout's journal is
    /// kept: deploy and rollback still refuse until `rollout resume` or `rollout abort`.
    #[arg(long)]
    pub break_lock: bool,
    /// AWS: go ahead although a listener's weights are not what dashctl last set (changed by
    /// hand, or left by a run that was killed mid-rollout); all traffic then goes to the color
    /// with the larger share first. Without it such a run refuses before changing anything.
    #[arg(long)]
    pub accept_live_traffic: bool,
}

impl Overrides {
    /// Whether any was given (they mean nothing locally, where `dashctl up` runs one rollout
    /// at a time and owns its proxy's weights).
    pub fn any(&self) -> bool {
        self.break_lock || self.accept_live_traffic
    }
}
