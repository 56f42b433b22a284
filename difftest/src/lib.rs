//! Script generators shared by the differential tests (see `tests/`).
