//! Output forms: human (snippet, note, help), JSON and SARIF 2.1.0.
