//! Rendering: number formatting shared by every output, and the plain-text summary the demo
//! and the console print. Templates and images come with the rendering issue.

pub mod charts;
pub mod format;
pub mod plain;
pub mod posts;
pub mod text;
