//! The learner's record: what they did in a chapter, as a hash-chained file in their working
//! folder (`.lab/<chapter>/progress.json`). The walkthrough writes it and the grader reads it;
//! neither reads the other, so the record is a layer of its own, below both.

mod canonical;
mod error;
mod progress;
mod store;

pub use error::RecordError;
pub use progress::{
    Break, CourseStamp, Event, GENESIS, PROGRESS_VERSION, Progress, Record, RecordedCheck, now,
};
pub use store::PROGRESS_LIMIT;
